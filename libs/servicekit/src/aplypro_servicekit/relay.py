"""Publishes outbox rows to Kafka in id order, in batches, and deletes them once the broker acked."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from base64 import b64decode
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from .outbox import notify_channel

log = structlog.get_logger(__name__)

LEASE_SECONDS = 60  # longer than a batch ever takes to publish; an expired lease lets another relay retry
MAX_ROWS_PER_LEASE = 1000  # rows are transactions: one to thousands of messages each
PARTITION_CACHE_SIZE = 200_000


class OutboxRelay:
    """One active relay per schema (an advisory lock elects it), so per-key order is kept."""

    def __init__(
        self, pool: asyncpg.Pool, producer: AIOKafkaProducer, schema: str, *, batch_size: int = 1000,
        idle_wait: float = 0.2,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._idle_wait = idle_wait
        self._wake = asyncio.Event()
        self._partitioner = DefaultPartitioner()  # the same key → partition mapping as a plain send
        self._partitions: dict[str, list[int]] = {}
        self._partition_of: dict[tuple[str, bytes], int] = {}
        self.published = 0
        self.last_progress = time.monotonic()

    def wake(self, *_: Any) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with self._pool.acquire() as lock_conn:
            # Standby instances wait here until the active relay's connection goes away.
            await lock_conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"relay:{self._schema}")
            # Leader now: leases left by a relay that died are void (it held the lock, so it is gone);
            # its rows are published again at once instead of after their lease runs out.
            await lock_conn.execute("UPDATE outbox_batch SET lease_token = NULL, lease_until = NULL "
                                    "WHERE lease_token IS NOT NULL")
            await lock_conn.add_listener(notify_channel(self._schema), self.wake)
            try:
                while True:
                    sent = await self.publish_batch()
                    if sent < self._batch_size:
                        self._wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self._idle_wait)
            finally:
                with contextlib.suppress(Exception):
                    await lock_conn.remove_listener(notify_channel(self._schema), self.wake)
                    await lock_conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"relay:{self._schema}")

    async def publish_batch(self) -> int:
        """Lease the oldest rows (about `batch_size` messages, at least one row), publish, delete them."""
        token = uuid.uuid4()
        async with self._pool.acquire() as conn:
            # The outer lease test is checked again after a row lock wait: a row is never leased twice.
            rows = await conn.fetch(
                "UPDATE outbox_batch SET lease_token = $1, lease_until = now() + make_interval(secs => $3) "
                "WHERE (lease_until IS NULL OR lease_until < now()) AND id IN ("
                "  SELECT id FROM (SELECT id, sum(size) OVER (ORDER BY id) - size AS before FROM outbox_batch "
                "                  WHERE lease_until IS NULL OR lease_until < now() ORDER BY id LIMIT $4) AS oldest "
                "  WHERE before < $2) "
                "RETURNING id, payloads, envelopes",
                token, self._batch_size, LEASE_SECONDS, MAX_ROWS_PER_LEASE,
            )
        if not rows:
            return 0
        rows = sorted(rows, key=lambda r: r["id"])
        sent = await self._send(rows)
        async with self._pool.acquire() as conn:
            # Filtered on the lease token: a relay whose lease expired cannot delete rows it lost.
            await conn.execute(
                "DELETE FROM outbox_batch WHERE id = ANY($1) AND lease_token = $2", [r["id"] for r in rows], token
            )
        self.published += sent
        self.last_progress = time.monotonic()
        return sent

    async def drain(self, seconds: float) -> None:
        """Publish what is left in the outbox (a stopping service), for at most `seconds`."""
        async def until_empty() -> None:
            while await self.publish_batch():
                pass

        with contextlib.suppress(Exception):
            await asyncio.wait_for(until_empty(), seconds)

    def _partition(self, topic: str, key: bytes | None) -> int:
        """The partition of a plain `send` (murmur2 of the key), remembered: a key comes back often."""
        partitions = self._partitions[topic]
        if key is None:
            return int(self._partitioner(None, partitions, partitions))
        cached = self._partition_of.get((topic, key))
        if cached is None:
            if len(self._partition_of) > PARTITION_CACHE_SIZE:
                self._partition_of.clear()
            cached = self._partition_of[(topic, key)] = int(self._partitioner(key, partitions, partitions))
        return cached

    async def _send(self, rows: list[Any]) -> int:
        """Publish the rows' messages in order and wait for the broker's acks; returns how many."""
        messages: list[Message] = [
            (topic, None if key_b64 is None else b64decode(key_b64), payload,
             [(k, v.encode()) for k, v in header_map.items()])
            for row in rows
            for (topic, key_b64, header_map), payload in zip(json.loads(row["envelopes"]), row["payloads"],
                                                             strict=True)]
        for topic in {m[0] for m in messages} - self._partitions.keys():
            self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return await send_in_batches(self._producer, messages, self._partition)


# topic, key, value, headers
Message = tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]


async def send_in_batches(producer: AIOKafkaProducer, messages: Iterable[Message],
                          partition_of: Callable[[str, bytes | None], int]) -> int:
    """Fill one record batch per partition (in order, so per-key order holds) and wait until the broker
    acked them all: much cheaper than one `send` per record. Returns the messages sent."""
    builders: dict[tuple[str, int], Any] = {}
    futures = []
    count = 0
    for topic, key, value, headers in messages:
        partition = partition_of(topic, key)
        builder = builders.get((topic, partition))
        if builder is None:
            builder = builders[(topic, partition)] = producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # Full: send it, then start the next batch of that partition with this record.
            futures.append(await producer.send_batch(builder, topic, partition=partition))
            builder = builders[(topic, partition)] = producer.create_batch()
            builder.append(key=key, value=value, timestamp=None, headers=headers)
        count += 1
    for (topic, partition), builder in builders.items():
        futures.append(await producer.send_batch(builder, topic, partition=partition))
    await asyncio.gather(*futures)  # every record acked by the broker
    return count
