"""Rows committed while the relay sends the previous ones go out at once, not one idle wait later: the NOTIFY
their commit sends arrives while the relay is busy, and must still wake it (the wake flag is cleared before the
leases, not when the relay pauses). Real broker and database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aplypro_local.testing import ProducerInFront, eventually, migrated_pool
from aplypro_servicekit.kafka import ensure_topics, make_producer
from aplypro_servicekit.outbox import OutboxRow, write_outbox
from aplypro_servicekit.relay import OutboxRelay
from aplypro_servicekit.relay_factory import RELAY_POOL_SIZE

pytestmark = pytest.mark.integration

IDLE_WAIT_S = 5.0  # far longer than the relay needs once woken


class HeldProducer(ProducerInFront):
    """A real producer whose first record batch waits until the test lets it go."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        super().__init__(producer)
        self.sending, self.release = asyncio.Event(), asyncio.Event()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        if not self.sending.is_set():
            self.sending.set()
            await self.release.wait()
        return await super().send_batch(batch, topic, partition=partition)


@pytest.fixture
def schema(namespace: str) -> str:
    return namespace.replace(".", "_") + "wake"


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(database_url, schema, size=RELAY_POOL_SIZE + 1)
    yield pool
    await pool.close()


async def _write(pool: asyncpg.Pool, topic: str, n: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await write_outbox(conn, [OutboxRow(topic, b"student-1", json.dumps({"n": n}).encode(), {"event-type": "Test"})])


async def test_rows_committed_during_a_send_are_published_without_waiting_for_the_idle_timeout(
    pool: asyncpg.Pool, schema: str, kafka_bootstrap: str, namespace: str
) -> None:
    topic = f"{namespace}wake"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    held = HeldProducer(producer)
    relay = OutboxRelay(pool, held, schema, batch_size=100, idle_wait=IDLE_WAIT_S)
    task = asyncio.create_task(relay.run())
    try:
        await _write(pool, topic, 1)
        await asyncio.wait_for(held.sending.wait(), 30)  # the first row is being sent...
        await _write(pool, topic, 2)  # ... when the second one commits (and NOTIFYs)
        await asyncio.sleep(0.3)  # its notification reaches the relay while it waits for the broker
        released = time.monotonic()
        held.release.set()
        await eventually(lambda: _published(pool, relay, 2), 3 * IDLE_WAIT_S, "both rows published")
        waited = time.monotonic() - released
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
    assert waited < IDLE_WAIT_S / 2  # woken by the notification, not by the idle timeout


async def _published(pool: asyncpg.Pool, relay: OutboxRelay, count: int) -> bool:
    return relay.published >= count and not await pool.fetchval("SELECT count(*) FROM outbox_batch")
