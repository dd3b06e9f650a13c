"""The relay leases the next rows while the broker takes the current lease: every message still goes out
once (never a row of the lease in flight leased again), in write order per key, and a failed send drops
the lease taken behind it, so nothing overtakes the messages sent again. Real broker and database, the
relay's own pool size (the lock connection and one more)."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import RequestTimedOutError
from aplypro_local.testing import ProducerInFront, eventually, read_topic
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.kafka import ensure_topics, make_producer
from aplypro_servicekit.outbox import OutboxRow, write_outbox
from aplypro_servicekit.relay import OutboxRelay
from aplypro_servicekit.relay_factory import RELAY_POOL_SIZE

pytestmark = pytest.mark.integration

MESSAGES = 3000
BATCH = 200  # 15 leases and more: each next one taken while one is in flight
KEYS = [f"student-{n}".encode() for n in range(7)]


class FailingProducer(ProducerInFront):
    """A real producer whose `fail_at`-th record batch times out once (the broker did not answer)."""

    def __init__(self, producer: AIOKafkaProducer, fail_at: int) -> None:
        super().__init__(producer)
        self._fail_at = fail_at
        self.sent = 0

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        self.sent += 1
        if self.sent == self._fail_at:
            answer = asyncio.get_running_loop().create_future()
            answer.set_exception(RequestTimedOutError())
            return answer
        return await super().send_batch(batch, topic, partition=partition)


@pytest.fixture
def schema(namespace: str) -> str:
    return namespace.replace(".", "_") + "pipe"


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, schema, size=RELAY_POOL_SIZE)
    await migrate(pool, schema, ["aplypro_servicekit"])
    yield pool
    await pool.close()


async def _fill(pool: asyncpg.Pool, topic: str) -> list[OutboxRow]:
    """MESSAGES messages over KEYS, in transactions of 1 to 150 messages (rows of every size)."""
    rng = random.Random(13)
    written = [OutboxRow(topic, KEYS[rng.randrange(len(KEYS))], json.dumps({"n": n, "id": uuid.uuid4().hex}).encode(),
                         {"event-type": "Test"}) for n in range(MESSAGES)]
    start = 0
    while start < MESSAGES:
        size = rng.randint(1, 150)
        async with pool.acquire() as conn, conn.transaction():
            await write_outbox(conn, written[start:start + size])
        start += size
    return written


async def _relay_until_empty(pool: asyncpg.Pool, producer: Any, schema: str) -> OutboxRelay:
    relay = OutboxRelay(pool, producer, schema, batch_size=BATCH)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _empty(pool), 60, "the outbox to be published")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return relay


async def _empty(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT count(*) FROM outbox_batch")


def _first_seen_per_key(records: list[Any]) -> dict[bytes, list[int]]:
    """Each key's message numbers in the order a consumer deduplicating by inbox first sees them."""
    seen: set[bytes] = set()
    order: dict[bytes, list[int]] = defaultdict(list)
    for r in records:
        if r.value not in seen:
            seen.add(r.value)
            order[r.key].append(json.loads(r.value)["n"])
    return order


def _written_per_key(written: list[OutboxRow]) -> dict[bytes, list[int]]:
    order: dict[bytes, list[int]] = defaultdict(list)
    for w in written:
        assert w.key is not None
        order[w.key].append(json.loads(w.payload)["n"])
    return order


async def test_pipelined_leases_publish_every_message_once_in_write_order_per_key(
    pool: asyncpg.Pool, schema: str, kafka_bootstrap: str, namespace: str
) -> None:
    topic = f"{namespace}pipe"
    await ensure_topics(kafka_bootstrap, [topic], partitions=3)
    written = await _fill(pool, topic)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        relay = await _relay_until_empty(pool, producer, schema)
    finally:
        await producer.stop()
    records = await read_topic(kafka_bootstrap, topic, expected=MESSAGES + 1, idle_s=2)
    assert relay.published == MESSAGES
    assert Counter(r.value for r in records) == Counter(w.payload for w in written)  # each exactly once
    assert _first_seen_per_key(records) == _written_per_key(written)  # no duplicate: the order they came in


async def test_a_failed_send_drops_the_lease_behind_it_and_nothing_overtakes_the_retry(
    pool: asyncpg.Pool, schema: str, kafka_bootstrap: str, namespace: str
) -> None:
    topic = f"{namespace}pipefail"
    await ensure_topics(kafka_bootstrap, [topic], partitions=3)
    written = await _fill(pool, topic)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    failing = FailingProducer(producer, fail_at=5)  # in the second lease, while the third is leased
    try:
        relay = await _relay_until_empty(pool, failing, schema)
    finally:
        await producer.stop()
    assert failing.sent > 5
    records = await read_topic(kafka_bootstrap, topic, idle_s=2)
    assert relay.published == MESSAGES
    # At least once: the failed lease went out again whole (its acked partitions twice), nothing lost.
    assert set(Counter(r.value for r in records)) == {w.payload for w in written}
    assert len(records) > MESSAGES
    assert _first_seen_per_key(records) == _written_per_key(written)
