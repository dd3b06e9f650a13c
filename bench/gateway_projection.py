"""Benchmark: the asp-gateway's projection consumers at a national year, one event at a time then folded, in one run.

    nice -n 19 uv run python bench/gateway_projection.py --students 5000            # both, before then after
    nice -n 19 uv run python bench/gateway_projection.py --students 5000 --mode after

What the gateway reads of a student over a year (bench/national.py's mix): on the students topic their
StudentRegistered, StudentAddressChanged (the detail backfill, version 2), a third of them a StudentIdentityChanged
(version 3), their SchoolingOpened and, for half of them, a SchoolingChanged; on the RIB topic one RibRecorded;
on the calculator's the schooling's SchoolingPriced and two PaymentRequested (two PFMPs); on the documents' the
DA (DocumentIssued then DocumentReady, kind attribution) and the état liquidatif (both, kind liquidation, with the
two PFMP numbers). `--stale` of the events are read a second time (a replayed stretch: stale then).

The real consumers (servicekit's EventConsumer, two lanes, `--batch` records a poll, one consumer a topic as the
service wires them: students, ribs, calculator, documents in turn) fed the records as the broker hands them (only
the broker is left out), on a fresh gateway schema of one embedded PostgreSQL (or DATABASE_URL) per mode: `before`
with `projection.in_student_order` (main), `after` with `projection_batch.batch_handler`. Prints events/s, this
process's CPU seconds and PostgreSQL's, and the ratios (bench/students_money_facts.py's measure).
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from aiokafka.structs import ConsumerRecord
from aplypro_asp_gateway.service_layer import projection, projection_batch
from aplypro_contracts import Envelope, PfmpNumber, default_registry
from aplypro_contracts.examples import examples
from aplypro_contracts.registry import to_wire
from aplypro_servicekit.consumer import BatchHandler, EventConsumer, EventHandler
from aplypro_servicekit.db import create_pool, migrate
from students_money_facts import bench_main, compare, server_cpu_s

START = datetime(2025, 9, 1, 6, tzinfo=UTC)
TOPICS = ("students", "ribs", "calculator", "documents")  # consumed in this order, as facts then requests then DAs
COUNTS = {"students": "SELECT count(*) FROM students", "schoolings": "SELECT count(*) FROM schoolings",
          "ribs": "SELECT count(*) FROM ribs", "requests": "SELECT count(*) FROM payment_requests",
          "decisions": "SELECT count(*) FROM attributive_decisions",
          "numbers": "SELECT count(*) FROM printed_pfmp_numbers",
          "stale": "SELECT coalesce(sum(dropped), 0) FROM stale_events"}

Records = dict[str, list[ConsumerRecord[bytes, bytes]]]


def stream(students: int, stale: float, seed: int) -> Records:
    rng = random.Random(seed)
    template = {e.event_type: e for e in examples()}
    at = iter(START + timedelta(milliseconds=n) for n in range(10**9))

    def event(event_type: str, **update: Any) -> Envelope:
        return template[event_type].model_copy(update={"event_id": uuid.uuid4(), "occurred_at": next(at), **update})

    identity = template["StudentRegistered"].identity  # type: ignore[attr-defined]
    by_topic: dict[str, list[Envelope]] = {t: [] for t in TOPICS}
    for n in range(students):
        student, schooling, pfmps = uuid.uuid4(), uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
        named = identity.model_copy(update={"last_name": f"NOM{n:06d}"})
        own = by_topic["students"]
        own.append(event("StudentRegistered", student_id=student, version=1, identity=named))
        own.append(event("SchoolingOpened", student_id=student, schooling_id=schooling, version=1))
        own.append(event("StudentAddressChanged", student_id=student, version=2, identity=named))
        if n % 3 == 0:
            own.append(event("StudentIdentityChanged", student_id=student, version=3, identity=named))
        if n % 2 == 0:
            own.append(event("SchoolingChanged", student_id=student, schooling_id=schooling, version=2))
        by_topic["ribs"].append(event("RibRecorded", rib_id=uuid.uuid4(), student_id=student, version=1))
        by_topic["calculator"].append(event("SchoolingPriced", student_id=student, schooling_id=schooling))
        by_topic["calculator"] += [event("PaymentRequested", payment_request_id=uuid.uuid4(), pfmp_id=pfmp,
                                         student_id=student, schooling_id=schooling, pfmp_rank=rank, version=1)
                                   for rank, pfmp in enumerate(pfmps, 1)]
        numbers = tuple(PfmpNumber(pfmp_id=p, number=f"L{n:06d}{rank}") for rank, p in enumerate(pfmps, 1))
        for kind, version, printed in (("attribution", 1, ()), ("liquidation", 1, numbers)):
            document = uuid.uuid4()
            for event_type in ("DocumentIssued", "DocumentReady"):
                by_topic["documents"].append(event(event_type, document_id=document, kind=kind, student_id=student,
                                                   schooling_id=schooling, number=f"D{n:06d}{kind[0]}",
                                                   version=version, pfmp_numbers=printed))
    records: Records = {}
    for topic, events in by_topic.items():
        replayed = [e.model_copy(update={"event_id": uuid.uuid4()}) for e in events if rng.random() < stale]
        records[topic] = []
        for offset, e in enumerate(events + replayed):
            body, headers = to_wire(e)
            records[topic].append(ConsumerRecord(topic, 0, offset, 0, 0, str(e.student_id).encode(),  # type: ignore[attr-defined]
                                                 body, None, 1, len(body), list(headers.items())))
    return records


async def consume(url: str, records: Records, batch: int,
                  batch_handler: Callable[[dict[str, EventHandler]], BatchHandler],
                  counts: Mapping[str, str]) -> dict[str, float]:
    """Each topic's records through its own EventConsumer on one fresh schema, `batch` at a time (two lanes, as
    deployed); the wall time, this process's CPU, PostgreSQL's, and the `counts` queries' answers after."""
    schema = f"bench{uuid.uuid4().hex[:6]}_asp_gateway"
    pool = await create_pool(url, schema, size=4)
    try:
        await migrate(pool, schema, ["aplypro_servicekit", "aplypro_asp_gateway"])
        postmaster = psutil.Process(int(await pool.fetchval("SELECT pg_backend_pid()"))).ppid()
        cpu, server, started = time.process_time(), server_cpu_s(postmaster), time.perf_counter()
        for topic in TOPICS:
            handlers = projection.HANDLERS_BY_TOPIC[topic]
            consumer = EventConsumer(name=topic, service="asp-gateway", pool=pool, registry=default_registry(),
                                     handlers=handlers, batch_handler=batch_handler(handlers), lanes=2)
            for first in range(0, len(records[topic]), batch):
                await consumer.process_batch(records[topic][first:first + batch])
        wall = time.perf_counter() - started
        total = sum(len(r) for r in records.values())
        result = {"s": wall, "events_per_s": total / wall, "cpu_s": time.process_time() - cpu,
                  "pg_cpu_s": server_cpu_s(postmaster) - server}
        for key, sql in counts.items():
            result[key] = await pool.fetchval(sql)
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
        return result
    finally:
        await pool.close()


async def run(url: str, args: argparse.Namespace) -> None:
    records = stream(args.students, args.stale, args.seed)
    everything = [r for topic in TOPICS for r in records[topic]]
    print(f"students={args.students} " + " ".join(f"{t}={len(records[t])}" for t in TOPICS))
    await compare(url, args, everything, "asp_gateway", {
        "before": lambda: consume(url, records, args.batch, projection.in_student_order, COUNTS),
        "after": lambda: consume(url, records, args.batch, projection_batch.batch_handler, COUNTS)})


def main() -> None:
    bench_main(__doc__, run, size="students", default=5000, stale_help="share of the events read a second time")


if __name__ == "__main__":
    main()
