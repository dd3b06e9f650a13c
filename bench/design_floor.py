"""Benchmark: the least CPU a student can cost in this design, against the 15-minute goal's budget.

    uv run python bench/design_floor.py --students 4000

Issue 12's goal, everything but documents for 650,000 students in 15 minutes on 2 cores, leaves
`GOAL_MS_PER_STUDENT` (≈ 2.77 ms) of CPU a student. The design fixes part of what a student costs whatever the
handlers do: every fact is an event, published from an outbox by a relay, and each consumer that needs it reads
it from the broker, parses it (pydantic contracts), claims it in its inbox and commits. This bench measures that
part alone, on the real broker and database, with the servicekit pieces the services run:

1. **relay**: the national per-student mix of consumed messages, written to an outbox beforehand (`write_outbox`,
   not measured: a handler's outbox write is its own work), published by the servicekit relay (`start_relay`, as
   a service runs it);
2. **bare read** (the yardstick): a bare aiokafka consumer reads every record, no decode, no database;
3. **no-op consumer**: the servicekit `EventConsumer` behind faststream's subscriber (`subscribe`, two lanes, 500
   records a poll, as deployed) with handlers that do nothing: decode, inbox claims, one commit a lane;
4. **row writes**: rows shaped like a projection's (uuid key, a student index, ten columns) inserted, then each
   updated once on an indexed column (a state move: never HOT), 500 a statement and a transaction.

The CPU of each phase is this process's, PostgreSQL's (every server process, psutil) and the broker's; a phase
includes its clients' start and stop (the relay's election, a consumer group's join), as a service's run does. The floor
a student is `CONSUMED_PER_STUDENT` × the no-op consumer's cost an event + `--row-writes` × a row write's +
`PRODUCED_PER_STUDENT` × the relay's cost an event. The mixes are those of the 5,000-student national run of
6 December 2026 (its metrics: messages each consumer read and each relay published; its `pg_stat_user_tables`:
rows written a student outside the inboxes and the documents' schema). Handlers that fold or skip more, or fewer
messages a student, move the floor; nothing else does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer
from aplypro_contracts import Envelope, default_registry
from aplypro_contracts.examples import examples
from aplypro_contracts.registry import to_wire
from aplypro_local.embedded import EmbeddedKafka
from aplypro_servicekit.consumer import EventConsumer
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.kafka import ensure_topics, subscribe
from aplypro_servicekit.logs import configure_logging
from aplypro_servicekit.outbox import event_row, write_outbox
from aplypro_servicekit.relay_factory import start_relay
from aplypro_servicekit.settings import ServiceSettings
from faststream.kafka import KafkaBroker
from students_money_facts import server_cpu_s, with_database

GOAL_STUDENTS, GOAL_SECONDS, CORES = 650_000, 15 * 60, 2
GOAL_MS_PER_STUDENT = GOAL_SECONDS * CORES * 1000 / GOAL_STUDENTS
# Messages a student each consumer read, everything but the documents service's own consumer (national run,
# 5,000 students, 6 December 2026): pricing 10, payment-facts 7, students-projection 5, money-facts 4, the
# gateway's documents 4, students 3, calculator 3 and ribs 1.
CONSUMED_MIX: dict[str, int] = {
    "DocumentIssued": 5, "DocumentReady": 5, "PfmpRecorded": 2, "PfmpValidated": 2, "RibRecorded": 2,
    "SchoolingOpened": 3, "StudentAddressChanged": 3, "StudentRegistered": 3, "AmountComputed": 2,
    "PaymentRequested": 6, "SchoolingPriced": 2, "RibOnFile": 1, "RibStatusChanged": 1,
}
CONSUMED_PER_STUDENT = sum(CONSUMED_MIX.values())
# Events a student the relays of students (6), calculator (5) and pfmp (4) published in that run (the gateway's
# grouped moves: 0.02); the documents service's are left out with it.
PRODUCED_PER_STUDENT = 15
# Rows a student written (inserted, updated, deleted) in the four schemas of that run (pg_stat_user_tables: pfmp
# 43.2, asp_gateway 41.4, calculator 28.2, students 25.2), 138, less the 37 inbox rows the no-op consumer writes.
ROW_WRITES_PER_STUDENT = 101
TOPIC = "floor.events"
BATCH = 500  # records a poll, rows a statement
OUTBOX_TRANSACTION = 450  # events a transaction into the outbox: an establishment's import
DEADLINE_S = 600.0  # a phase that does not end by then names what it waited for

T = TypeVar("T")


@dataclass
class Cost:
    """CPU seconds of one phase, by process."""

    wall_s: float
    process_s: float
    postgres_s: float
    broker_s: float

    @property
    def total_s(self) -> float:
        return self.process_s + self.postgres_s + self.broker_s

    def per(self, n: int) -> str:
        ms = 1000 / n
        return (f"s={self.wall_s:.1f} per_s={n / self.wall_s:.0f} cpu_ms_each: process={self.process_s * ms:.4f} "
                f"postgres={self.postgres_s * ms:.4f} broker={self.broker_s * ms:.4f} "
                f"total={self.total_s * ms:.4f}")


class Meter:
    """The CPU this process, PostgreSQL and the broker spend while `measure` awaits."""

    def __init__(self, postmaster: int, broker: int) -> None:
        self._postmaster, self._broker = postmaster, psutil.Process(broker)

    def _broker_s(self) -> float:
        times = self._broker.cpu_times()
        return float(times.user + times.system)

    async def measure(self, work: Callable[[], Awaitable[T]]) -> tuple[T, Cost]:
        cpu, pg, broker, wall = time.process_time(), server_cpu_s(self._postmaster), self._broker_s(), time.perf_counter()
        result = await work()
        return result, Cost(time.perf_counter() - wall, time.process_time() - cpu,
                            server_cpu_s(self._postmaster) - pg, self._broker_s() - broker)


def mix(students: int) -> list[tuple[uuid.UUID, Envelope]]:
    """The consumed messages of `students` students, each an example of its contract with its own event id and
    student, student by student as they come."""
    template: dict[str, Envelope] = {}
    for example in examples():  # a document's: a DA's, as the consumers above read (états liquidatifs skipped)
        if getattr(example, "kind", "attribution") == "attribution":
            template.setdefault(example.event_type, example)
    at = datetime(2026, 9, 1, 8, tzinfo=UTC)
    events = []
    for n in range(students):
        student = uuid.uuid4()
        for name, count in CONSUMED_MIX.items():
            for _ in range(count):
                update: dict[str, Any] = {"event_id": uuid.uuid4(), "occurred_at": at + timedelta(seconds=n)}
                if "student_id" in type(template[name]).model_fields:
                    update["student_id"] = student
                events.append((student, template[name].model_copy(update=update)))
    return events


async def fill_outbox(pool: asyncpg.Pool, topic: str, events: list[tuple[uuid.UUID, Envelope]]) -> None:
    """The events in the outbox, keyed by student, `OUTBOX_TRANSACTION` a transaction (not measured: a handler's
    outbox write is part of its own work)."""
    for first in range(0, len(events), OUTBOX_TRANSACTION):
        rows = [event_row(topic, student, event) for student, event in events[first:first + OUTBOX_TRANSACTION]]
        async with pool.acquire() as conn, conn.transaction():
            await write_outbox(conn, rows)


async def until(done: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for `done`, looking every 50 ms; past `DEADLINE_S`, fail naming `what`."""
    deadline = time.monotonic() + DEADLINE_S
    while not await done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {DEADLINE_S:.0f} s")
        await asyncio.sleep(0.05)


async def relay_all(settings: ServiceSettings, schema: str, pool: asyncpg.Pool) -> None:
    """The outbox published by the servicekit relay (started and stopped as a service does), until it is empty."""
    relay = await start_relay(settings, schema)
    try:
        # The batch table, not the `outbox` view: the view unpacks every row, a cost the relay does not have.
        await until(lambda: _outbox_empty(pool), "the relay emptying the outbox")
    finally:
        await relay.stop(drain_seconds=1)


async def _outbox_empty(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM outbox_batch)")


async def bare_read(bootstrap: str, topic: str, expected: int) -> int:
    """Every record of the topic by a bare aiokafka consumer: the transport alone."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bare-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        read, deadline = 0, time.monotonic() + DEADLINE_S
        while read < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bare read: {read} of {expected} records after {DEADLINE_S:.0f} s")
            batches = await consumer.getmany(timeout_ms=100, max_records=BATCH)
            read += sum(len(records) for records in batches.values())
            if batches:
                await consumer.commit()
        return read
    finally:
        await consumer.stop()


async def decode_all(wire: list[tuple[bytes, dict[str, bytes]]]) -> int:
    """Each record parsed as the consumer parses it (the registry, by its type and version headers)."""
    registry = default_registry()
    for body, headers in wire:
        registry.parse(body, headers.get("event-type"), headers.get("schema-version"))
    return len(wire)


async def noop(*_: Any) -> None:
    """A handler that changes nothing: what is left is the consumer's own work."""


async def noop_consumer(settings: ServiceSettings, pool: asyncpg.Pool, expected: int) -> int:
    """Every record through faststream's subscriber and the servicekit EventConsumer, handlers doing nothing."""
    consumer = EventConsumer(name="floor", service="floor", pool=pool, registry=default_registry(),
                             handlers=dict.fromkeys(CONSUMED_MIX, noop), batch_handler=noop,
                             lanes=settings.consumer_lanes)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=None)
    subscribe(broker, settings, consumer, [TOPIC], group=f"floor-{uuid.uuid4().hex[:6]}")
    await broker.start()
    try:
        await until(lambda: _processed(consumer, expected), f"the no-op consumer processing {expected} events")
        return consumer.processed
    finally:
        await broker.stop()


async def _processed(consumer: EventConsumer, expected: int) -> bool:
    return consumer.processed >= expected


ROWS_TABLE = """
CREATE TABLE floor_rows (
    row_id uuid PRIMARY KEY, student_id uuid NOT NULL, state text NOT NULL, amount_cents integer NOT NULL,
    start_date date NOT NULL, end_date date NOT NULL, uai text NOT NULL, mef_code text NOT NULL,
    version integer NOT NULL, changed_at timestamptz NOT NULL)
"""


async def create_rows_table(pool: asyncpg.Pool) -> None:
    """The projection-like table, with a student index and a partial one on the state, as the services' have."""
    await pool.execute(ROWS_TABLE)
    await pool.execute("CREATE INDEX floor_rows_student ON floor_rows (student_id)")
    await pool.execute("CREATE INDEX floor_rows_pending ON floor_rows (row_id) WHERE state = 'pending'")


async def row_writes(pool: asyncpg.Pool, ids: list[uuid.UUID], students: list[uuid.UUID]) -> int:
    """A projection row inserted for each id, then each moved once (its state, an indexed column), 500 a
    statement and a transaction."""
    rows = len(ids)
    for first in range(0, rows, BATCH):
        chunk = slice(first, first + BATCH)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO floor_rows SELECT u.id, u.student, 'pending', 12345, DATE '2026-09-01', "
                "DATE '2026-10-15', '0750001A', '24023406310', 1, now() FROM unnest($1::uuid[], $2::uuid[]) "
                "AS u(id, student)", ids[chunk], students[chunk])
    for first in range(0, rows, BATCH):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE floor_rows SET state = 'ready', version = version + 1, changed_at = now() "
                               "WHERE row_id = ANY($1::uuid[])", ids[first:first + BATCH])
    return 2 * rows


@dataclass
class Floor:
    """A student's floor in ms of CPU, by part."""

    consume_ms: float
    write_ms: float
    relay_ms: float

    @property
    def total_ms(self) -> float:
        return self.consume_ms + self.write_ms + self.relay_ms

    def line(self, row_writes: int) -> str:
        return (f"floor per student: consume {CONSUMED_PER_STUDENT} x = {self.consume_ms:.2f} ms + write "
                f"{row_writes} rows = {self.write_ms:.2f} ms + relay {PRODUCED_PER_STUDENT} x = {self.relay_ms:.2f} ms "
                f"-> {self.total_ms:.2f} ms; goal {GOAL_MS_PER_STUDENT:.2f} ms ({GOAL_STUDENTS} students in "
                f"{GOAL_SECONDS} s on {CORES} cores); floor/goal={self.total_ms / GOAL_MS_PER_STUDENT:.2f}")


def floor_ms(consumed: Cost, events: int, writes: Cost, written: int, relayed: Cost, row_writes: int) -> Floor:
    """The phases' CPU an event (or a row) times what a student makes: its reads, its row writes, its events."""
    return Floor(consume_ms=CONSUMED_PER_STUDENT * consumed.total_s * 1000 / events,
                 write_ms=row_writes * writes.total_s * 1000 / written,
                 relay_ms=PRODUCED_PER_STUDENT * relayed.total_s * 1000 / events)


async def measure_phases(args: argparse.Namespace, settings: ServiceSettings, schema: str, pool: asyncpg.Pool,
                         meter: Meter) -> Floor:
    """Each phase on the same events (the row writes on rows of their own), its line printed as it ends."""
    topic = settings.topic(TOPIC)
    await ensure_topics(settings.kafka_bootstrap_servers, [topic], settings.topic_partitions)
    events = mix(args.students)
    n = len(events)
    print(f"students={args.students} events={n} consumed_per_student={CONSUMED_PER_STUDENT} "
          f"load_avg_1m={os.getloadavg()[0]:.2f} cpus={os.cpu_count()}", flush=True)
    await fill_outbox(pool, topic, events)
    wire = [to_wire(event) for _, event in events]
    _, decoding = await meter.measure(lambda: decode_all(wire))
    print(f"decode alone (the contracts' parse, in this process): {decoding.per(n)}", flush=True)
    _, relayed = await meter.measure(lambda: relay_all(settings, schema, pool))
    print(f"relay: {relayed.per(n)}", flush=True)
    read, bare = await meter.measure(lambda: bare_read(settings.kafka_bootstrap_servers, topic, n))
    print(f"bare read (yardstick): records={read} {bare.per(n)}", flush=True)
    configure_logging("floor")
    with open(os.devnull, "w") as nowhere, contextlib.redirect_stderr(nowhere):  # a service's logs: not here
        processed, consumed = await meter.measure(lambda: noop_consumer(settings, pool, n))
    inbox = await pool.fetchval("SELECT count(*) FROM processed_messages")
    print(f"no-op consumer: processed={processed} inbox_rows={inbox} {consumed.per(n)} "
          f"ratio_to_bare_read={consumed.total_s / bare.total_s:.1f}", flush=True)
    rows = args.students * args.row_writes // 2  # each row written twice
    ids, students = [uuid.uuid4() for _ in range(rows)], [uuid.uuid4() for _ in range(rows)]
    written, writes = await meter.measure(lambda: row_writes(pool, ids, students))
    print(f"row writes: writes={written} {writes.per(written)}", flush=True)
    return floor_ms(consumed, n, writes, written, relayed, args.row_writes)


async def run(args: argparse.Namespace, bootstrap: str, broker_pid: int, database_url: str) -> None:
    os.environ.update({"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database_url})
    settings = ServiceSettings()
    schema = f"floor{uuid.uuid4().hex[:6]}"
    pool = await create_pool(database_url, schema, size=4)
    try:
        await migrate(pool, schema, ["aplypro_servicekit"])
        await create_rows_table(pool)
        meter = Meter(psutil.Process(int(await pool.fetchval("SELECT pg_backend_pid()"))).ppid(), broker_pid)
        floor = await measure_phases(args, settings, schema, pool, meter)
        print(floor.line(args.row_writes), flush=True)
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--students", type=int, default=4000)
    parser.add_argument("--row-writes", type=int, default=ROW_WRITES_PER_STUDENT,
                        help="rows a student written outside the inboxes (default: the national run's)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="design-floor-"))
    kafka = EmbeddedKafka.start(log_file=work / "broker.log")
    try:
        with_database(lambda url: run(args, kafka.bootstrap, kafka.process.pid, url))
    finally:
        kafka.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
