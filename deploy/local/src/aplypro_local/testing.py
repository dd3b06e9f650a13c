"""Helpers of the tests that talk to the real broker: produce events, read a topic, wait for a condition."""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aplypro_contracts import Envelope, Establishment, Mef, SchoolingOpened, to_wire
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.kafka_security import client_kwargs
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

T = TypeVar("T")


def interleave(rng: random.Random, streams: list[list[T]]) -> list[T]:
    """One stream of all, each stream's own order kept (as one partition keeps a key's): the random batches the
    fold tests cut."""
    streams = [list(s) for s in streams if s]
    out: list[T] = []
    while streams:
        stream = rng.choice(streams)
        out.append(stream.pop(0))
        if not stream:
            streams.remove(stream)
    return out


async def produce(bootstrap: str, topic: str, items: Sequence[tuple[uuid.UUID | str, Envelope | bytes]]) -> None:
    """Publish events (with their type and version headers) or raw bytes, each with its key."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **client_kwargs())
    await producer.start()
    try:
        futures = []
        for key, item in items:
            body, headers = (item, {}) if isinstance(item, bytes) else to_wire(item)
            futures.append(await producer.send(topic, body, key=str(key).encode(), headers=list(headers.items())))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, expected: int | None = None, timeout: float = 30,
                     idle_s: float = 2.0) -> list[Any]:
    """Records of a topic from the start: until `expected` arrived, or (without it) until nothing new
    came for `idle_s`; never longer than `timeout`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"reader-{uuid.uuid4()}", enable_auto_commit=False,
                                **client_kwargs())
    await consumer.start()
    records: list[Any] = []
    try:
        started = last = time.monotonic()
        while time.monotonic() - started < timeout:
            if expected is not None and len(records) >= expected:
                break
            if expected is None and time.monotonic() - last >= idle_s:
                break
            for items in (await consumer.getmany(timeout_ms=300, max_records=5000)).values():
                records.extend(items)
                last = time.monotonic()
    finally:
        await consumer.stop()
    return records


class ProducerInFront:
    """A real producer behind a test's stand-in for the broker's answers (the relay's BatchProducer): a subclass
    overrides `send_batch` and calls this one to reach the broker."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    def create_batch(self) -> Any:
        return self._producer.create_batch()

    async def partitions_for(self, topic: str) -> Any:
        return await self._producer.partitions_for(topic)

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        return await self._producer.send_batch(batch, topic, partition=partition)


async def migrated_pool(database_url: str, schema: str, *, size: int = 5) -> asyncpg.Pool:
    """A pool on `schema` with servicekit's tables (inbox, outbox, relay leader) migrated: a test's own schema."""
    pool = await create_pool(database_url, schema, size=size)
    await migrate(pool, schema, ["aplypro_servicekit"])
    return pool


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Retry `check` until it holds, or fail after `timeout` seconds naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def probe_schooling(label: str, student_id: uuid.UUID | None = None) -> SchoolingOpened:
    """A valid SchoolingOpened told apart by its class label: the event of the servicekit's probe services."""
    return SchoolingOpened(
        producer="test", schooling_id=uuid.uuid4(), student_id=student_id or uuid.uuid4(),
        establishment=Establishment(uai="0999001K", name="Lycée test"), class_label=label, school_year=2025,
        mef=Mef(code="2473111533", dispositif="247", diploma="40031105", duration=3, year=3,
                label="BAC PRO", ministry="MENJ"),
        start_date=date(2025, 9, 1), version=1,
    )


def scrape(port: int) -> list[Sample]:
    """Every sample an ops port's `/metrics` serves now (ops_server.py, http_ops.py)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def sample_value(samples: Sequence[Sample], name: str, **labels: str) -> float:
    """The sum of `name`'s samples carrying these labels (0 when there is none yet)."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())
