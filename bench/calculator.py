"""Benchmark: PFMP events in → amounts persisted and their events published through the outbox.

Runs the real calculator process against the embedded broker and database (or the ones given by
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), and measures in the same run the raw aiokafka produce rate.

    uv run python bench/calculator.py --pfmps 80000                      # production cool-down
    uv run python bench/calculator.py --pfmps 80000 --cooldown none      # requests evaluated at once

One calculator instance as deployed (deploy/k8s): two consumer processes and the relay process, batches of
up to 1,000 records; APLYPRO_* variables in the environment override these.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aplypro_contracts import (
    DocumentReady,
    Establishment,
    Mef,
    PfmpState,
    PfmpValidated,
    SchoolingOpened,
    to_wire,
)
from aplypro_contracts.topics import DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS
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


async def progress(database_url: str, schema: str) -> tuple[int, int, int]:
    """(schoolings priced, payment requests persisted, outbox rows not yet published)."""
    conn = await asyncpg.connect(database_url)
    try:
        return (int(await conn.fetchval(f"SELECT count(*) FROM {schema}.schoolings")),
                int(await conn.fetchval(f"SELECT count(*) FROM {schema}.payment_requests")),
                int(await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox")))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0, 0, 0
    finally:
        await conn.close()


INSTANCE = {"APLYPRO_CONSUMER_PROCESSES": "2", "APLYPRO_CONSUMER_MAX_RECORDS": "1000"}


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
    parser.add_argument("--settle", type=float, default=8.0,
                        help="seconds given to the calculator's processes to start before the warm-up")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here instead of a temporary folder")
    args = parser.parse_args()
    if args.workdir:
        asyncio.run(main(args.pfmps, args.per_student, args.workdir.resolve(), args.settle, args.cooldown, args.evaluate))
    else:
        with tempfile.TemporaryDirectory(prefix="aplybench-") as tmp:
            asyncio.run(main(args.pfmps, args.per_student, Path(tmp), args.settle, args.cooldown, args.evaluate))
    sys.exit(0)
