"""Benchmark: PFMP events in → amounts persisted and their events published through the outbox.

Runs the real calculator process against the embedded broker and database (or the ones given by
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), and measures in the same run the raw aiokafka produce rate.

    uv run python bench/calculator.py --pfmps 80000                      # production cool-down
    uv run python bench/calculator.py --pfmps 80000 --cooldown none      # requests evaluated at once
    uv run python bench/calculator.py --burst 20000                      # the national validation burst

`--burst N` replays the national bench's pattern (bench/national.py, stage "amounts"): N students with 1-3
PFMPs each (2 on average), their schoolings, RIBs, DAs and every PFMP recorded (priced, no request) in the
warm-up; then every `PfmpValidated` at once, as `aplypro-pfmp validate` publishes them, timed until every
PFMP has its request and the outbox is empty (`PaymentRequested` on the broker). Cool-down `none`, as the
local stack runs it.

One calculator instance as deployed (deploy/k8s): two consumer processes and the relay process, batches of
up to 1,000 records; APLYPRO_* variables in the environment override these.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aplypro_contracts import (
    DocumentReady,
    Establishment,
    Mef,
    PfmpRecorded,
    PfmpState,
    PfmpValidated,
    RibRecorded,
    SchoolingOpened,
    to_wire,
)
from aplypro_contracts.topics import DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_local.stack import LocalStack, service_command
from aplypro_servicekit.relay import send_in_batches

MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3, label="BAC PRO",
          ministry="MENJ")
# One record to produce: key, body and headers, as aiokafka takes them.
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def events(pfmps: int, per_student: int) -> tuple[list[Record], list[Record], list[Record]]:
    schoolings: list[Record] = []
    periods: list[Record] = []
    decisions: list[Record] = []  # each schooling's DA, as the documents service announces it (payment gate)
    school = Establishment(uai="0999001K", name="LP bench")
    for _ in range(pfmps // per_student):
        student, schooling = uuid.uuid4(), uuid.uuid4()
        body, headers = to_wire(SchoolingOpened(
            producer="bench", schooling_id=schooling, student_id=student, establishment=school,
            class_label="TLE", school_year=2025, mef=MEF, start_date=date(2025, 9, 1), version=1))
        schoolings.append((str(student).encode(), body, list(headers.items())))
        body, headers = to_wire(DocumentReady(
            producer="bench", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling,
            student_id=student, number="ENPUBENCH0000120251", version=1, storage_ref="bench.pdf",
            sha256="0" * 64, size_bytes=1))
        decisions.append((str(student).encode(), body, list(headers.items())))
        for k in range(per_student):
            start = date(2025, 10, 1) + timedelta(days=20 * k)
            body, headers = to_wire(PfmpValidated(producer="bench", pfmp=PfmpState(
                pfmp_id=uuid.uuid4(), schooling_id=schooling, student_id=student, start_date=start,
                end_date=start + timedelta(days=13), day_count=10, status="validated", created_seq=k, rank=k + 1,
                version=2)))
            periods.append((str(student).encode(), body, list(headers.items())))
    return schoolings, periods, decisions


class Burst(NamedTuple):
    """The national pattern's events, in the order they are produced."""

    schoolings: list[Record]
    ribs: list[Record]
    decisions: list[Record]
    recorded: list[Record]
    validated: list[Record]


def burst_events(students: int, seed: int = 1) -> Burst:
    """`students` students with 1-3 PFMPs each (2 on average), each PFMP recorded then validated."""
    draw = random.Random(seed)
    out = Burst([], [], [], [], [])
    school = Establishment(uai="0999001K", name="LP bench")
    for _ in range(students):
        student, schooling = uuid.uuid4(), uuid.uuid4()
        key = str(student).encode()

        def add(into: list[Record], event: Any, key: bytes = key) -> None:
            body, headers = to_wire(event)
            into.append((key, body, list(headers.items())))

        add(out.schoolings, SchoolingOpened(
            producer="bench", schooling_id=schooling, student_id=student, establishment=school,
            class_label="TLE", school_year=2025, mef=MEF, start_date=date(2025, 9, 1), version=1))
        add(out.ribs, RibRecorded(
            producer="bench", rib_id=uuid.uuid4(), student_id=student, establishment_uai=school.uai,
            owner_type="personal", holder_name="BENCH", iban="FR7630006000011234567890189", bic="AGRIFRPP",
            version=1))
        add(out.decisions, DocumentReady(
            producer="bench", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling,
            student_id=student, number="ENPUBENCH0000120251", version=1, storage_ref="bench.pdf",
            sha256="0" * 64, size_bytes=1))
        for k in range(draw.choice((1, 2, 3))):
            start = date(2025, 10, 1) + timedelta(days=20 * k)
            state = dict(pfmp_id=uuid.uuid4(), schooling_id=schooling, student_id=student, start_date=start,
                         end_date=start + timedelta(days=13), day_count=10, created_seq=k, rank=k + 1)
            add(out.recorded, PfmpRecorded(producer="bench", pfmp=PfmpState(**state, status="completed", version=1)))
            add(out.validated, PfmpValidated(producer="bench", pfmp=PfmpState(**state, status="validated",
                                                                               version=2)))
    return out


async def produce(bootstrap: str, topic: str, items: list[Record]) -> float:
    """Seconds to produce every item and have the broker ack it: aiokafka's batch API, one record batch per
    partition at a time, keys partitioned like a plain `send` (the relay's own publishing function)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    partitions = sorted(await producer.partitions_for(topic))
    partitioner = DefaultPartitioner()
    started = time.perf_counter()
    await send_in_batches(producer, [(topic, key, body, headers) for key, body, headers in items],
                          lambda _, key: int(partitioner(key, partitions, partitions)))
    elapsed = time.perf_counter() - started
    await producer.stop()
    return elapsed


async def progress(database_url: str, schema: str, *, schoolings: bool = True) -> tuple[int, int, int]:
    """(schoolings priced (0 unless `schoolings`), payment requests persisted, outbox rows not yet published)."""
    conn = await asyncpg.connect(database_url)
    try:
        return (int(await conn.fetchval(f"SELECT count(*) FROM {schema}.schoolings")) if schoolings else 0,
                int(await conn.fetchval(f"SELECT count(*) FROM {schema}.payment_requests")),
                int(await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox")))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0, 0, 0
    finally:
        await conn.close()


INSTANCE = {"APLYPRO_CONSUMER_PROCESSES": "2", "APLYPRO_CONSUMER_MAX_RECORDS": "1000"}


async def priced(database_url: str, schema: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {schema}.pfmps WHERE computed_at IS NOT NULL"))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0
    finally:
        await conn.close()


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by a live process and its live descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


async def validation_burst(students: int, workdir: Path, settle: float) -> None:
    """The national bench's `amounts` stage: every PFMP already priced, then validated at once."""
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    config = {**INSTANCE, "APLYPRO_CONSUMER_MAX_RECORDS": "500", "APLYPRO_CALCULATOR_EVALUATION_COOLDOWN": "none",
              "APLYPRO_RELAY_PROCESS": "true"}  # the local stack's settings, as bench/national.py runs them
    config = {k: os.environ.get(k, v) for k, v in config.items()}
    print(" ".join(f"{k}={v}" for k, v in sorted(config.items())))
    stack = LocalStack(workdir, extra_env={"APLYPRO_TOPIC_NAMESPACE": namespace, **config})
    stack.start_servers()
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    try:
        burst = burst_events(students)
        pfmps = len(burst.validated)
        raw_s = await produce(bootstrap, f"{namespace}raw-yardstick", burst.validated)
        stack.start_service("calculator")
        await asyncio.sleep(settle)
        schema, url = f"{stack.schema_prefix}calculator", stack.env["DATABASE_URL"]
        warm = time.perf_counter()
        await produce(bootstrap, namespace + STUDENTS_EVENTS, burst.schoolings)
        await produce(bootstrap, namespace + STUDENTS_RIBS, burst.ribs)
        await produce(bootstrap, namespace + DOCUMENTS_EVENTS, burst.decisions)
        while (await progress(url, schema))[0] < students:
            await asyncio.sleep(0.2)
        await produce(bootstrap, namespace + PFMP_EVENTS, burst.recorded)
        while await priced(url, schema) < pfmps or (await progress(url, schema))[2]:
            await asyncio.sleep(0.2)
        print(f"warm-up: {students} students, {pfmps} PFMPs recorded and priced in {time.perf_counter() - warm:.1f} s")
        # CPU used by the calculator's processes and by PostgreSQL in the timed window: what a request costs,
        # whatever the neighbours' load.
        service = stack.processes["calculator"].pid
        postmaster = int((workdir / "pgdata" / "postmaster.pid").read_text().split()[0]) if stack.postgres else None
        cpu = (tree_cpu_s(service), tree_cpu_s(postmaster) if postmaster else 0.0)
        started = time.perf_counter()
        await produce(bootstrap, namespace + PFMP_EVENTS, burst.validated)
        while (state := await progress(url, schema, schoolings=False))[1:] != (pfmps, 0):
            await asyncio.sleep(0.25)  # each look counts two growing tables: PostgreSQL work in the timed window
        elapsed = time.perf_counter() - started
        rate, raw_rate = pfmps / elapsed, pfmps / raw_s
        service_cpu = tree_cpu_s(service) - cpu[0]
        db_cpu = (tree_cpu_s(postmaster) - cpu[1]) if postmaster else float("nan")
        print(f"students={students} pfmps={pfmps} seconds={elapsed:.2f} requests={state[1]} "
              f"load={os.getloadavg()[0]:.1f}")
        print(f"cpu_ms_per_request: calculator={1000 * service_cpu / pfmps:.3f} postgres={1000 * db_cpu / pfmps:.3f}")
        print(f"requests_per_s={rate:.0f} raw_produce_per_s={raw_rate:.0f} ratio={rate / raw_rate:.3f}")
    finally:
        stack.stop()


async def evaluate_after_midnight(stack: LocalStack, url: str, schema: str, requests: int) -> None:
    """The night pass: `evaluate-due` on every pending request, until their events are published."""
    started = time.perf_counter()
    after_midnight = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    command = [*service_command("calculator")[:-1], "evaluate-due", "--now", after_midnight]
    process = await asyncio.create_subprocess_exec(*command, env=stack.env, stdout=asyncio.subprocess.PIPE)
    output, _ = await process.communicate()
    while (await progress(url, schema))[2] != 0:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    print(output.decode().strip())
    print(f"evaluated_requests={requests} seconds={elapsed:.2f} evaluated_per_s={requests / elapsed:.0f}")


async def main(pfmps: int, per_student: int, workdir: Path, settle: float, cooldown: str, evaluate: bool) -> None:
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    config = {**INSTANCE, "APLYPRO_CALCULATOR_EVALUATION_COOLDOWN": cooldown}
    config = {k: os.environ.get(k, v) for k, v in config.items()}
    print(" ".join(f"{k}={v}" for k, v in sorted(config.items())))
    stack = LocalStack(workdir, extra_env={"APLYPRO_TOPIC_NAMESPACE": namespace, **config})
    stack.start_servers()
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    try:
        schoolings, periods, decisions = events(pfmps, per_student)
        # The raw produce rate of this machine and broker, same payloads, as the yardstick.
        raw_s = await produce(bootstrap, f"{namespace}raw-yardstick", periods)
        stack.start_service("calculator")
        await asyncio.sleep(settle)  # every consumer process started and in its group: no rebalance later
        await produce(bootstrap, namespace + STUDENTS_EVENTS, schoolings)
        await produce(bootstrap, namespace + DOCUMENTS_EVENTS, decisions)  # read in the warm-up, not measured
        schema, url = f"{stack.schema_prefix}calculator", stack.env["DATABASE_URL"]
        while (await progress(url, schema))[0] < len(schoolings):  # warmed up: every schooling priced
            await asyncio.sleep(0.2)
        started = time.perf_counter()
        await produce(bootstrap, namespace + PFMP_EVENTS, periods)
        # Done when every PFMP has its payment request and the outbox has published everything.
        while (state := await progress(url, schema))[1:] != (len(periods), 0):
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        rate, raw_rate = len(periods) / elapsed, len(periods) / raw_s
        print(f"pfmps={len(periods)} seconds={elapsed:.2f} requests={state[1]}")
        print(f"pfmps_per_s={rate:.0f} raw_produce_per_s={raw_rate:.0f} ratio={rate / raw_rate:.3f}")
        if evaluate and cooldown != "none":
            await evaluate_after_midnight(stack, url, schema, len(periods))
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pfmps", type=int, default=20000)
    parser.add_argument("--per-student", type=int, default=5)
    parser.add_argument("--cooldown", choices=["next_midnight", "none"], default="next_midnight",
                        help="next_midnight (production): a validated PFMP gets its amount and a pending request, "
                        "evaluated after midnight; none: the request is evaluated at once (PaymentRequested too)")
    parser.add_argument("--evaluate", action="store_true",
                        help="then time the night pass (evaluate-due) that turns the pending requests into events")
    parser.add_argument("--burst", type=int, metavar="STUDENTS",
                        help="the national validation burst for this many students (see above); other options "
                        "but --settle and --workdir are ignored")
    parser.add_argument("--settle", type=float, default=8.0,
                        help="seconds given to the calculator's processes to start before the warm-up")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here instead of a temporary folder")
    args = parser.parse_args()
    if args.burst:
        with tempfile.TemporaryDirectory(prefix="aplybench-") as tmp:
            asyncio.run(validation_burst(args.burst, (args.workdir or Path(tmp)).resolve(), args.settle))
    elif args.workdir:
        asyncio.run(main(args.pfmps, args.per_student, args.workdir.resolve(), args.settle, args.cooldown, args.evaluate))
    else:
        with tempfile.TemporaryDirectory(prefix="aplybench-") as tmp:
            asyncio.run(main(args.pfmps, args.per_student, Path(tmp), args.settle, args.cooldown, args.evaluate))
    sys.exit(0)
