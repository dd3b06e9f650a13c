"""Two relays on one schema never publish at once: a SIGTERMed leader drains under its lock before the
standby takes over, and a leader whose lock connection is terminated stops publishing before the standby
starts. Checked on the real broker and database by counting every message's unique id in the topic
(exactly once) and the per-key sequence of first deliveries (in order), nothing lost."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from aplypro_local.testing import eventually, read_topic
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.kafka import ensure_topics, make_producer
from aplypro_servicekit.leadership import NotLeader
from aplypro_servicekit.outbox import OutboxRow, write_outbox
from aplypro_servicekit.relay import OutboxRelay
from aplypro_servicekit.relay_process import start_relay_process
from aplypro_servicekit.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEYS = [f"student-{n}".encode() for n in range(8)]


@dataclass
class Writer:
    """Writes messages (a unique id and a per-key sequence each) in small transactions, like services."""

    pool: asyncpg.Pool
    topic: str
    written: list[str] = field(default_factory=list)
    _seq: dict[bytes, int] = field(default_factory=lambda: defaultdict(int))

    async def write(self, messages: int, per_transaction: int = 50, pause: float = 0.0) -> None:
        for _ in range(0, messages, per_transaction):
            rows = []
            for n in range(per_transaction):
                key = KEYS[(len(self.written) + n) % len(KEYS)]
                self._seq[key] += 1
                msg_id = uuid.uuid4().hex
                rows.append(OutboxRow(self.topic, key, json.dumps({"id": msg_id, "seq": self._seq[key]}).encode(),
                                      {"event-type": "Test"}))
            async with self.pool.acquire() as conn, conn.transaction():
                await write_outbox(conn, rows)
            self.written.extend(json.loads(r.payload)["id"] for r in rows)
            if pause:
                await asyncio.sleep(pause)


@dataclass
class Setup:
    schema: str
    topic: str
    pool: asyncpg.Pool
    writer: Writer


@pytest.fixture
async def setup(database_url: str, kafka_bootstrap: str, namespace: str) -> AsyncIterator[Setup]:
    schema = namespace.replace(".", "_") + "fence"
    topic = f"{namespace}fence"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    await ensure_topics(kafka_bootstrap, [topic], partitions=3)
    yield Setup(schema, topic, pool, Writer(pool, topic))
    await pool.close()


async def outbox_left(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(sum(size), 0) FROM outbox_batch"))


async def lock_waiters(pool: asyncpg.Pool, schema: str) -> tuple[list[int], list[int]]:
    """Backends holding and awaiting the relay lock of `schema` (a one-key advisory lock on hashtext)."""
    rows = await pool.fetch(
        "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
        "AND objid::bigint = (hashtext($1)::bigint & 4294967295)", f"relay:{schema}")
    return [r["pid"] for r in rows if r["granted"]], [r["pid"] for r in rows if not r["granted"]]


async def assert_published_exactly_once_in_order(bootstrap: str, setup: Setup) -> None:
    records = await read_topic(bootstrap, setup.topic, idle_s=3, timeout=60)
    counts = Counter(json.loads(r.value)["id"] for r in records)
    twice = {i: n for i, n in counts.items() if n > 1}
    missing = set(setup.writer.written) - counts.keys()
    first_seqs: dict[bytes, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for r in records:
        body = json.loads(r.value)
        if body["id"] not in seen:
            seen.add(body["id"])
            first_seqs[r.key].append(body["seq"])
    out_of_order = [k for k, seqs in first_seqs.items() if seqs != sorted(seqs)]
    assert not missing, f"{len(missing)} messages lost"
    assert not twice, f"{len(twice)} of {len(counts)} messages published more than once"
    assert not out_of_order, f"first deliveries out of order for {len(out_of_order)} keys"
    assert len(records) == len(setup.writer.written)


async def test_a_sigtermed_leader_drains_under_its_lock_and_the_standby_publishes_nothing_twice(
    setup: Setup, kafka_bootstrap: str, database_url: str
) -> None:
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url,
                               relay_batch_size=100, log_json=True, log_level="WARNING")
    await setup.writer.write(2000)
    leader = start_relay_process(settings, "fence", setup.schema)
    standby = None
    try:
        await eventually(lambda: _published_at_least(setup.pool, 2000, 500), 60, "the leader to publish")
        standby = start_relay_process(settings, "fence", setup.schema)
        await eventually(lambda: _someone_waits(setup.pool, setup.schema), 60, "the standby to wait for the lock")
        # A burst (rows of 500 messages, a lease each), so the leader has a backlog when it is told to stop.
        await setup.writer.write(20_000, per_transaction=500)
        # Narrated: a rolling deploy stops the leader while the standby waits for the lock.
        leader.terminate()
        await asyncio.to_thread(leader.join, 30)
        assert leader.exitcode == 0
        # The standby took over: what is written now goes out through it alone.
        await setup.writer.write(1000)
        await eventually(lambda: _empty(setup.pool), 60, "the outbox to be published by the standby")
    finally:
        for process in (leader, standby):
            if process is not None and process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, 30)
    await assert_published_exactly_once_in_order(kafka_bootstrap, setup)


async def test_a_leader_whose_lock_connection_is_terminated_stops_before_the_standby_publishes(
    setup: Setup, kafka_bootstrap: str, database_url: str
) -> None:
    relays, pools, producers, tasks = [], [], [], []
    for _ in range(2):
        pools.append(await create_pool(database_url, setup.schema, size=3))
        producers.append(make_producer(kafka_bootstrap))
        await producers[-1].start()
        relays.append(OutboxRelay(pools[-1], producers[-1], setup.schema, batch_size=100))
    first, second = relays
    try:
        writing = asyncio.create_task(setup.writer.write(12_000, pause=0.02))
        tasks.append(asyncio.create_task(first.run()))
        await eventually(lambda: _true(first.published > 500), 60, "the first relay to publish")
        tasks.append(asyncio.create_task(second.run()))
        await eventually(lambda: _someone_waits(setup.pool, setup.schema), 30, "the second relay to wait")
        [holder], _ = await lock_waiters(setup.pool, setup.schema)
        # Narrated: the leader's lock connection dies (idle timeout, NAT drop, an operator); it is not told.
        assert await setup.pool.fetchval("SELECT pg_terminate_backend($1)", holder)
        terminated_at = time.monotonic()
        await eventually(lambda: _true(second.published > 0), 30, "the second relay to take over")
        # A fenced leader stops within its heartbeat: nothing more from it a few seconds later.
        await asyncio.sleep(max(0.0, terminated_at + 5 - time.monotonic()))
        published_by_first = first.published
        await writing
        await eventually(lambda: _empty(setup.pool), 60, "the outbox to be published")
        assert first.published == published_by_first, "the fenced relay kept publishing"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for producer in producers:
            await producer.stop()
        for pool in pools:
            await pool.close()
    await assert_published_exactly_once_in_order(kafka_bootstrap, setup)


async def _true(value: bool) -> bool:
    return value


async def _published_at_least(pool: asyncpg.Pool, written: int, count: int) -> bool:
    return written - await outbox_left(pool) >= count


async def _someone_waits(pool: asyncpg.Pool, schema: str) -> bool:
    holders, waiters = await lock_waiters(pool, schema)
    return len(holders) == 1 and len(waiters) == 1


async def _empty(pool: asyncpg.Pool) -> bool:
    return await outbox_left(pool) == 0


async def test_a_new_leader_leaves_a_live_lease_of_the_old_one_alone_and_the_old_one_can_lease_no_more(
    setup: Setup, kafka_bootstrap: str
) -> None:
    await setup.writer.write(300)
    # The old leader (epoch 1) holds a live lease on the oldest row, then loses its lock unknowingly.
    await setup.pool.execute("UPDATE relay_leader SET epoch = 1")
    await setup.pool.execute(
        "UPDATE outbox_batch SET lease_token = gen_random_uuid(), lease_epoch = 1, "
        "lease_until = now() + interval '30 seconds' WHERE id = (SELECT min(id) FROM outbox_batch)")
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    old = OutboxRelay(setup.pool, producer, setup.schema, batch_size=100)
    new = OutboxRelay(setup.pool, producer, setup.schema, batch_size=100)
    task = asyncio.create_task(new.run())
    try:
        await eventually(lambda: _true(new.leading), 10, "the new relay to be elected")
        await asyncio.sleep(1.5)
        assert new.published == 0  # nothing past the old leader's rows: per-key order holds
        assert await outbox_left(setup.pool) == 300  # and its lease was not voided
        with pytest.raises(NotLeader):
            await old.publish_batch(1)
        # The old leader finishes (publishes its row, deletes it by its lease): the new one goes on.
        await setup.pool.execute("DELETE FROM outbox_batch WHERE lease_epoch = 1")
        await eventually(lambda: _empty(setup.pool), 10, "the new relay to publish the rest")
        assert new.published == 250
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
