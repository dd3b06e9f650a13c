"""Benchmark: the students service's `money-facts` consumer at national volume, per event then set-based, in one run.

    nice -n 19 uv run python bench/students_money_facts.py --requests 40000            # both, before then after
    nice -n 19 uv run python bench/students_money_facts.py --requests 40000 --mode after
    nice -n 19 uv run python bench/students_money_facts.py --requests 40000 --groups   # PaymentRequestsMoved

The stream the consumer reads when the year's payments go out: per payment request the calculator's
PaymentRequested, then the asp-gateway's `ready` (PaymentRequestStateChanged v3, with the RIB, as a file is
built), PaymentRequestSent (the upload), `integrated` and `paid` (the return files); per schooling (two requests
each) its décision d'attribution, DocumentIssued then DocumentReady. Gateway events come file by file (7,000
requests a file), as the gateway publishes them; `--stale` of the gateway's events are read twice (a replayed
file: stale the second time). `--groups`: each step of a file in PaymentRequestsMoved groups (MOVES_PER_EVENT
requests a group) as the gateway publishes it from issue 12; a group counts as the single events it stands for.

The real consumer (servicekit's EventConsumer: decode, inbox claims, the handler, one transaction per lane, two
lanes as deployed) is fed the records as the broker would hand them, `--batch` at a time (the deployed
APLYPRO_CONSUMER_MAX_RECORDS): only the broker is left out. Logging as the service configures it (JSON, info),
written to /dev/null. Each mode runs on a fresh schema of one embedded PostgreSQL (or DATABASE_URL):
`before` with `in_batch_order(HANDLERS)` (each event's handler in turn, as on main), `after` with
`money_facts.on_batch`. Prints per mode events/s, the CPU seconds of this process and of PostgreSQL (its live
processes, psutil), and the ratios after/before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import (
    MOVES_PER_EVENT,
    DocumentIssued,
    DocumentReady,
    Envelope,
    PaymentRequested,
    PaymentRequestSent,
    PaymentRequestsMoved,
    PaymentRequestStateChanged,
    default_registry,
)
from aplypro_contracts.examples import examples
from aplypro_contracts.registry import to_wire
from aplypro_local.grouped_moves import moved_request
from aplypro_servicekit.consumer import BatchHandler, EventConsumer, EventHandler, in_batch_order
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.logs import configure_logging
from aplypro_students.service_layer import money_facts

FILE = 7_000  # requests a payment file
START = datetime(2026, 6, 1, 8, tzinfo=UTC)


def stream(requests: int, stale: float, seed: int, groups: bool = False) -> list[ConsumerRecord[bytes, bytes]]:
    """The records in the order the consumer reads them, keyed by student as the producers key them (a group by
    its first request's student)."""
    rng = random.Random(seed)
    models: list[type[Envelope]] = [DocumentIssued, DocumentReady, PaymentRequested, PaymentRequestSent,
                                    PaymentRequestStateChanged]
    template = {model: next(e for e in examples() if isinstance(e, model)) for model in models}
    at = iter(START + timedelta(seconds=s) for s in range(10**9))

    def event(model: type[Envelope], **update: Any) -> Envelope:
        return template[model].model_copy(update={"event_id": uuid.uuid4(), "occurred_at": next(at), **update})

    people = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range((requests + 1) // 2)]  # student, schooling, RIB
    asked = [(uuid.uuid4(), *people[i // 2]) for i in range(requests)]
    events: list[tuple[str, Envelope]] = []
    for student, schooling, _ in people:
        for model in (DocumentIssued, DocumentReady):
            events.append(("documents", event(model, kind="attribution", schooling_id=schooling,
                                              student_id=student)))
    for request, student, schooling, _ in asked:
        events.append(("calculator", event(PaymentRequested, payment_request_id=request, student_id=student,
                                           schooling_id=schooling)))
    for first in range(0, requests, FILE):
        file = asked[first:first + FILE]
        for version, state in enumerate(("ready", "sent", "integrated", "paid"), start=2):
            step = []
            for request, student, _, rib in file:
                if state == "sent":
                    step.append(event(PaymentRequestSent, payment_request_id=request, student_id=student,
                                      version=version, rib_id=rib))
                else:
                    step.append(event(PaymentRequestStateChanged, payment_request_id=request, student_id=student,
                                      state=state, version=version, rib_id=rib if state == "ready" else None))
            replayed = [e.model_copy(update={"event_id": uuid.uuid4()}) for e in step if rng.random() < stale]
            if groups:  # the file's step, then its replay, each as the gateway's groups
                step, replayed = as_groups(step, next(at)), as_groups(replayed, next(at))
            events += [("asp", e) for e in step + replayed]
    records = []
    for offset, (topic, e) in enumerate(events):
        body, headers = to_wire(e)
        keyed_by = e.requests[0].student_id if isinstance(e, PaymentRequestsMoved) else getattr(e, "student_id", "")
        key = str(keyed_by).encode()
        records.append(ConsumerRecord(topic, 0, offset, 0, 0, key, body, None, 1, len(body), list(headers.items())))
    return records


def as_groups(step: list[Envelope], at: datetime) -> list[Envelope]:
    return [PaymentRequestsMoved(producer="asp-gateway", occurred_at=at, file_name="f",
                                 requests=tuple(moved_request(e) for e in step[i:i + MOVES_PER_EVENT]))
            for i in range(0, len(step), MOVES_PER_EVENT)]


def events_in(records: list[ConsumerRecord[bytes, bytes]]) -> int:
    """The events the records stand for: a PaymentRequestsMoved counts as the single events it replaces."""
    return sum(len(json.loads(r.value)["requests"]) if ("event-type", b"PaymentRequestsMoved") in r.headers
               else 1 for r in records)


def server_cpu_s(postmaster: int) -> float:
    """The server's CPU so far: its live processes, and those that ended (the postmaster reaped them: asyncpg
    replaces a connection after 50,000 queries, whose backend's time would be lost otherwise)."""
    root = psutil.Process(postmaster)
    ended = root.cpu_times()
    total = ended.children_user + ended.children_system
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return float(total)


async def consume(url: str, *, service: str, name: str, handlers: Mapping[str, EventHandler],
                  batch_handler: BatchHandler, records: list[ConsumerRecord[bytes, bytes]], batch: int,
                  counts: Mapping[str, str]) -> dict[str, float]:
    """The records through a fresh schema's EventConsumer, `batch` at a time (two lanes, as deployed); the wall
    time, this process's CPU, PostgreSQL's, and the `counts` queries' answers after."""
    schema = f"bench{uuid.uuid4().hex[:6]}_{service}"
    pool = await create_pool(url, schema, size=4)
    try:
        await migrate(pool, schema, ["aplypro_servicekit", f"aplypro_{service}"])
        postmaster = psutil.Process(int(await pool.fetchval("SELECT pg_backend_pid()"))).ppid()
        consumer = EventConsumer(name=name, service=service, pool=pool, registry=default_registry(),
                                 handlers=handlers, batch_handler=batch_handler, lanes=2)
        cpu, server, started = time.process_time(), server_cpu_s(postmaster), time.perf_counter()
        for first in range(0, len(records), batch):
            await consumer.process_batch(records[first:first + batch])
        wall = time.perf_counter() - started
        result = {"s": wall, "events_per_s": events_in(records) / wall, "cpu_s": time.process_time() - cpu,
                  "pg_cpu_s": server_cpu_s(postmaster) - server}
        for key, sql in counts.items():
            result[key] = await pool.fetchval(sql)
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
        return result
    finally:
        await pool.close()


async def compare(url: str, args: argparse.Namespace, records: list[ConsumerRecord[bytes, bytes]], service: str,
                  modes: Mapping[str, Callable[[], Awaitable[dict[str, float]]]]) -> None:
    """Runs the chosen modes (logging as the service's, to /dev/null) and prints each one and the ratios."""
    events = events_in(records)
    print(f"events={events} records={len(records)} batch={args.batch} load_avg_1m={os.getloadavg()[0]:.2f} cpus={os.cpu_count()}")
    chosen = list(modes) if args.mode == "both" else [args.mode]
    results = {}
    for mode in chosen:
        configure_logging(service)
        out, sys.stderr = sys.stderr, open(os.devnull, "w")  # restored below
        try:
            results[mode] = r = await modes[mode]()
        finally:
            sys.stderr.close()
            sys.stderr = out
        rows = " ".join(f"{k}={v:.0f}" for k, v in r.items() if k not in ("s", "events_per_s", "cpu_s", "pg_cpu_s"))
        print(f"{mode}: s={r['s']:.1f} events_per_s={r['events_per_s']:.0f} cpu_s={r['cpu_s']:.1f} "
              f"pg_cpu_s={r['pg_cpu_s']:.1f} cpu_ms_per_event={(r['cpu_s'] + r['pg_cpu_s']) * 1000 / events:.3f} "
              f"(rows: {rows}) load_avg_1m={os.getloadavg()[0]:.2f}")
    if len(results) == 2:
        b, a = results["before"], results["after"]
        print(f"after/before: events_per_s x{a['events_per_s'] / b['events_per_s']:.2f} "
              f"cpu_s x{a['cpu_s'] / b['cpu_s']:.2f} pg_cpu_s x{a['pg_cpu_s'] / b['pg_cpu_s']:.2f} "
              f"total_cpu x{(a['cpu_s'] + a['pg_cpu_s']) / (b['cpu_s'] + b['pg_cpu_s']):.2f}")


def with_database(run: Callable[[str], Coroutine[Any, Any, None]]) -> None:
    """An embedded PostgreSQL (or DATABASE_URL) for the run."""
    url = os.environ.get("DATABASE_URL")
    work = Path(tempfile.mkdtemp(prefix="consumer-bench-"))
    postgres = None
    try:
        if url is None:
            from aplypro_local.embedded import EmbeddedPostgres

            postgres = EmbeddedPostgres.start(work / "pgdata")
            url = postgres.url
        asyncio.run(run(url))
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


async def before_and_after(url: str, args: argparse.Namespace, records: list[ConsumerRecord[bytes, bytes]], *,
                           service: str, name: str, handlers: Mapping[str, EventHandler], after: BatchHandler,
                           counts: Mapping[str, str]) -> None:
    """`compare` of one consumer: `before` its per-event handlers in order (in_batch_order), `after` its fold."""

    def mode(handler: BatchHandler) -> Callable[[], Awaitable[dict[str, float]]]:
        return lambda: consume(url, service=service, name=name, handlers=handlers, batch_handler=handler,
                               records=records, batch=args.batch, counts=counts)

    await compare(url, args, records, service, {"before": mode(in_batch_order(handlers)), "after": mode(after)})


def bench_main(doc: str | None, run: Callable[[str, argparse.Namespace], Coroutine[Any, Any, None]], *,
               size: str, default: int, stale_help: str,
               options: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """The consumer benches' command line (`--<size> N --batch --stale --mode --seed`, and a bench's own
    `options`), then `run` on a database."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    if options is not None:
        options(parser)
    parser.add_argument(f"--{size}", type=int, default=default)
    parser.add_argument("--batch", type=int, default=500, help="records a poll (APLYPRO_CONSUMER_MAX_RECORDS)")
    parser.add_argument("--stale", type=float, default=0.02, help=stale_help)
    parser.add_argument("--mode", choices=["both", "before", "after"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with_database(lambda url: run(url, args))


COUNTS = {"requests": "SELECT count(*) FROM rib_payment_requests",
          "in_progress": "SELECT count(*) FROM rib_payment_requests WHERE in_progress",
          "facts": "SELECT count(*) FROM schooling_money_facts"}


async def run(url: str, args: argparse.Namespace) -> None:
    records = stream(args.requests, args.stale, args.seed, args.groups)
    print(f"requests={args.requests}")
    await before_and_after(url, args, records, service="students", name=money_facts.CONSUMER,
                           handlers=money_facts.HANDLERS, after=money_facts.on_batch, counts=COUNTS)


def main() -> None:
    bench_main(__doc__, run, size="requests", default=40000, stale_help="share of gateway events read a second time",
               options=groups_option)


def groups_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--groups", action="store_true", help="the gateway's moves in PaymentRequestsMoved groups")


if __name__ == "__main__":
    main()
