"""Benchmark: pfmp's payment-facts consumer on the gateway's events of a payment run, before and after the
batch fold (issue 12), in the same run.

    nice -n 19 uv run python bench/pfmp_facts.py --requests 40000
    nice -n 19 uv run python bench/pfmp_facts.py --requests 40000 --mode after     # the fold only
    nice -n 19 uv run python bench/pfmp_facts.py --requests 40000 --groups         # as PaymentRequestsMoved

N payment requests, known to pfmp as the calculator requested them (written straight into payment_requests:
what PaymentRequested leaves), then the gateway's four moves of each (ready, sent, integrated, paid with MTNET),
stage by stage as a national run publishes them (`--groups`: each stage's moves in PaymentRequestsMoved groups,
by partition, MOVES_PER_EVENT a group, as the gateway publishes them from issue 12). The real consumer (aplypro_servicekit's EventConsumer: decode,
inbox, the batch handler, commit) takes them in batches of `--batch` records, as read from the topic; no broker:
the records are built in memory, so what is measured is pfmp and PostgreSQL. `before` is the per-event handlers
in order (`in_batch_order(facts.HANDLERS)`), `after` the fold (`facts_batch.on_batch`), each on a schema of its
own in one embedded PostgreSQL (or DATABASE_URL). Prints events/s, the CPU seconds of this process and of
PostgreSQL (psutil: the server's processes), and the ratios (per move: a single event or a group's part); then checks both schemas hold the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import psutil
from aplypro_contracts import (
    MOVES_PER_EVENT,
    PaymentRequestSent,
    PaymentRequestsMoved,
    PaymentRequestStateChanged,
    default_registry,
    to_wire,
)
from aplypro_contracts.topics import ASP_EVENTS
from aplypro_local.grouped_moves import moved_request
from aplypro_pfmp.service_layer import facts, facts_batch
from aplypro_servicekit.consumer import BatchHandler, EventConsumer, in_batch_order
from aplypro_servicekit.db import create_pool, migrate
from pfmp_import import database

MODES: dict[str, BatchHandler] = {"before": in_batch_order(facts.HANDLERS), "after": facts_batch.on_batch}
START = datetime(2026, 6, 1, tzinfo=UTC)
PARTITIONS = 6


def requests(n: int) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """(request, PFMP, student): two PFMPs a student, as the national population has on average."""
    students = [uuid.uuid4() for _ in range((n + 1) // 2)]
    return [(uuid.uuid4(), uuid.uuid4(), students[i // 2]) for i in range(n)]


def records(known: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]], groups: bool = False) -> list[SimpleNamespace]:
    """The gateway's events of the run, keyed by student as the gateway publishes them; or its groups."""
    stages: list[list[Any]] = [[], [], [], []]
    for k, (request, pfmp, student) in enumerate(known):
        common = {"producer": "asp-gateway", "payment_request_id": request, "pfmp_id": pfmp, "student_id": student}
        at = START + timedelta(seconds=k)
        stages[0].append(PaymentRequestStateChanged(**common, state="ready", version=1, occurred_at=at))
        stages[1].append(PaymentRequestSent(**common, amount_cents=15000, file_name="f", version=2,
                                            occurred_at=at + timedelta(hours=1)))
        stages[2].append(PaymentRequestStateChanged(**common, state="integrated", version=3,
                                                    occurred_at=at + timedelta(days=1)))
        stages[3].append(PaymentRequestStateChanged(**common, state="paid", paid_amount=Decimal("150.00"),
                                                    version=4, occurred_at=at + timedelta(days=5)))
    out = []
    for offset, event in enumerate(e for stage in stages for e in (grouped(stage) if groups else stage)):
        body, headers = to_wire(event)
        student = event.requests[0].student_id if isinstance(event, PaymentRequestsMoved) else event.student_id
        out.append(SimpleNamespace(topic=ASP_EVENTS, partition=hash(student) % PARTITIONS, offset=offset,
                                   key=str(student).encode(), value=body, headers=list(headers.items())))
    return out


def grouped(stage: list[Any]) -> list[PaymentRequestsMoved]:
    """One stage's moves as the gateway groups them: by the partition its students' keys fall on, keyed by one of
    them, MOVES_PER_EVENT a group."""
    by_partition: dict[int, list[Any]] = {}
    for event in stage:
        by_partition.setdefault(hash(event.student_id) % PARTITIONS, []).append(event)
    return [PaymentRequestsMoved(producer="asp-gateway", occurred_at=events[at].occurred_at, file_name="f",
                                 requests=tuple(moved_request(e) for e in events[at:at + MOVES_PER_EVENT]))
            for events in by_partition.values() for at in range(0, len(events), MOVES_PER_EVENT)]


async def prepare(pool: asyncpg.Pool, known: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]) -> None:
    """What each request's PaymentRequested left: pending, version 1, its amount."""
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "payment_requests", records=[(r, p, START, START, "pending", 1, 15000) for r, p, _ in known],
            columns=["payment_request_id", "pfmp_id", "requested_at", "first_seen", "calc_state", "calc_version",
                     "amount_cents"])
        await conn.execute("VACUUM ANALYZE payment_requests")


def server_cpu_s(postmaster: int | None) -> float:
    """CPU of the PostgreSQL server's processes (its backends, autovacuum, checkpointer); 0 when not local.
    The backends that ended count too (the postmaster's reaped children): the pool replaces a connection
    after 50,000 queries, and the per-event path runs hundreds of thousands."""
    if postmaster is None:
        return 0.0
    try:
        root = psutil.Process(postmaster)
        own = root.cpu_times()
        total: float = own.children_user + own.children_system
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        return 0.0
    return total


async def run(pool: asyncpg.Pool, handler: BatchHandler, stream: list[SimpleNamespace], batch: int,
              postmaster: int | None) -> dict[str, float]:
    consumer = EventConsumer(name=facts.CONSUMER, service="pfmp", pool=pool, registry=default_registry(),
                             handlers=facts.HANDLERS, batch_handler=handler)
    me = psutil.Process()
    cpu, pg, started = me.cpu_times(), server_cpu_s(postmaster), time.perf_counter()
    for start in range(0, len(stream), batch):
        await consumer.process_batch(stream[start:start + batch])
    wall = time.perf_counter() - started
    after = me.cpu_times()
    assert consumer.processed == len(stream)
    assert consumer.dead_lettered == 0
    return {"wall": wall, "python": after.user + after.system - cpu.user - cpu.system,
            "postgres": server_cpu_s(postmaster) - pg}


async def main(n: int, batch: int, modes: list[str], work: Path, groups: bool = False) -> None:
    known = requests(n)
    stream = records(known, groups)
    moves = 4 * n  # ready, sent, integrated, paid
    print(f"{n} requests, {moves} moves in {len(stream)} gateway events, batches of {batch}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    results: dict[str, dict[str, float]] = {}
    tables: dict[str, list[Any]] = {}
    with database(work) as url:
        for mode in modes:
            schema = f"bench_facts_{mode}_{uuid.uuid4().hex[:6]}"
            pool = await create_pool(url, schema)
            try:
                await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
                await prepare(pool, known)
                postmaster = psutil.Process(int(await pool.fetchval("SELECT pg_backend_pid()"))).ppid()
                results[mode] = r = await run(pool, MODES[mode], stream, batch, postmaster)
                # Per move (a single event, or a group's part), so that a run with groups compares with one without.
                print(f"{mode:>6}: {moves / r['wall']:8.0f} moves/s  {r['wall']:6.1f} s wall  "
                      f"python {r['python']:6.1f} CPU-s  postgres {r['postgres']:6.1f} CPU-s  "
                      f"({1000 * (r['python'] + r['postgres']) / moves:.3f} CPU-ms a move)", flush=True)
                tables[mode] = [tuple(r) for r in await pool.fetch(
                    "SELECT * FROM payment_requests ORDER BY payment_request_id")] + [
                    tuple(r) for r in await pool.fetch("SELECT * FROM pfmps_known_to_asp ORDER BY 1")] + [
                    tuple(r) for r in await pool.fetch("SELECT * FROM stale_events ORDER BY 1")]
                async with pool.acquire() as conn:
                    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            finally:
                await pool.close()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if len(results) == 2:
        b, a = results["before"], results["after"]
        print(f"after/before: {b['wall'] / a['wall']:.1f}x moves/s, python CPU {b['python'] / a['python']:.1f}x less, "
              f"postgres CPU {b['postgres'] / a['postgres']:.1f}x less")
        assert tables["before"] == tables["after"], "the two modes left different rows"
        print("both modes left the same payment_requests, pfmps_known_to_asp and stale_events rows")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40000)
    parser.add_argument("--batch", type=int, default=500, help="records a poll hands the consumer")
    parser.add_argument("--mode", choices=["both", *MODES], default="both")
    parser.add_argument("--groups", action="store_true", help="the moves in PaymentRequestsMoved groups")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pfmp-facts-") as tmp:
        asyncio.run(main(args.requests, args.batch, list(MODES) if args.mode == "both" else [args.mode], Path(tmp),
                         args.groups))
