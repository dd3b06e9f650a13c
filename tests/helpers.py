"""Shared helpers of the cross-service tests: produce events, read topics, wait for a condition."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aplypro_contracts import Envelope, to_wire


async def produce(bootstrap: str, topic: str, items: list[tuple[uuid.UUID | str, Envelope | bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for key, item in items:
            if isinstance(item, bytes):
                body, headers = item, {}
            else:
                body, headers = to_wire(item)
            futures.append(await producer.send(topic, body, key=str(key).encode(),
                                               headers=list(headers.items())))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, idle_s: float = 2.0) -> list[Any]:
    """Every record of a topic, read until nothing new arrives for `idle_s`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"reader-{uuid.uuid4()}", enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        last = time.monotonic()
        while time.monotonic() - last < idle_s:
            batch = await consumer.getmany(timeout_ms=300, max_records=5000)
            for items in batch.values():
                records.extend(items)
                last = time.monotonic()
    finally:
        await consumer.stop()
    return records


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
