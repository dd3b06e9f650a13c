"""Builds a schema's outbox relay (its own pool, producer and loop) from settings: the one place, used
by a service that relays in a task and by the relay process."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from .db import create_pool
from .kafka import make_producer
from .record_size import set_max_record_bytes
from .relay import KAFKA_REQUEST_TIMEOUT_MS, SEND_WITHIN_S, OutboxRelay
from .settings import ServiceSettings
from .supervision import keep_running

RELAY_POOL_SIZE = 2  # the lock connection (heartbeat, NOTIFY) and one for leases and deletes, one at a time
DRAIN_SECONDS = 10.0
# A stop waits for the drain and then for a batch begun just before its end (bounded by SEND_WITHIN_S).
STOP_MARGIN_S = SEND_WITHIN_S + 3
STOP_SECONDS = DRAIN_SECONDS + STOP_MARGIN_S


@dataclass
class RunningRelay:
    relay: OutboxRelay
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    task: asyncio.Task[None]

    async def stop(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Drain under the lock, then unlock (the standby starts where this one stopped), then close."""
        self.relay.stop(drain_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.task), drain_seconds + STOP_MARGIN_S)
        if not self.task.done():
            self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        await self.producer.stop()
        await self.pool.close()


async def start_relay(settings: ServiceSettings, schema: str) -> RunningRelay:
    """Start the relay loop: standby until it holds the schema's relay lock, then publishing."""
    set_max_record_bytes(settings.max_record_bytes)  # the relay parks what is over it
    pool = await create_pool(settings.database_url, schema, size=RELAY_POOL_SIZE, role="relay")
    producer = make_producer(settings.kafka_bootstrap_servers, request_timeout_ms=KAFKA_REQUEST_TIMEOUT_MS,
                             security=settings.kafka_security)
    try:
        await producer.start()
    except BaseException:
        await pool.close()
        raise
    relay = OutboxRelay(pool, producer, schema, batch_size=settings.relay_batch_size)
    return RunningRelay(relay, pool, producer, asyncio.create_task(keep_running(relay.run, "relay")))
