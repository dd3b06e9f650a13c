"""No record too big blocks an outbox: `write_outbox` refuses one before writing anything, and the relay
parks a message it still cannot publish (a row written before the guard, or one the broker refuses as
Apache Kafka does over `message.max.bytes`) and publishes the rest in order. Real broker and database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aplypro_local.testing import ProducerInFront, eventually, read_topic
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.kafka import ensure_topics, make_producer
from aplypro_servicekit.outbox import OutboxRow, write_outbox
from aplypro_servicekit.record_size import RecordTooLarge, max_record_bytes, set_max_record_bytes
from aplypro_servicekit.relay import OutboxRelay
from aplypro_servicekit.relay_factory import start_relay
from aplypro_servicekit.settings import ServiceSettings

pytestmark = pytest.mark.integration

BROKER_LIMIT = 16_000  # the refusing broker's message.max.bytes, below our own limit


class RefusingProducer(ProducerInFront):
    """A real producer in front of a broker that refuses any record batch over `limit` bytes, as Apache
    Kafka does (Tansu takes them all)."""

    def __init__(self, producer: AIOKafkaProducer, limit: int) -> None:
        super().__init__(producer)
        self._limit = limit
        self.refused = 0

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        if batch.size() > self._limit:
            self.refused += 1
            answer = asyncio.get_running_loop().create_future()
            answer.set_exception(MessageSizeTooLargeError())
            return answer
        return await super().send_batch(batch, topic, partition=partition)


@pytest.fixture(autouse=True)
def default_limit() -> Iterator[None]:
    yield
    set_max_record_bytes(None)


@pytest.fixture
def schema(namespace: str) -> str:
    return namespace.replace(".", "_") + "big"


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    yield pool
    await pool.close()


def message(topic: str, key: bytes, seq: int, size: int = 0) -> OutboxRow:
    body = {"id": uuid.uuid4().hex, "seq": seq, "pad": "x" * size}
    return OutboxRow(topic, key, json.dumps(body).encode(), {"event-type": "Test"})


async def test_write_outbox_refuses_a_too_large_record_before_writing_anything(pool: asyncpg.Pool) -> None:
    set_max_record_bytes(20_000)
    rows = [message("t", b"k", 1), message("t", b"k", 2, size=30_000), message("t", b"k", 3)]
    async with pool.acquire() as conn:  # no transaction: nothing may have been inserted before the check
        with pytest.raises(RecordTooLarge) as refused:
            await write_outbox(conn, rows)
    assert (refused.value.index, refused.value.code) == (1, "record_too_large")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_the_relay_parks_what_cannot_be_published_and_publishes_the_rest_in_order(
    pool: asyncpg.Pool, schema: str, kafka_bootstrap: str, namespace: str
) -> None:
    topic = f"{namespace}big"
    await ensure_topics(kafka_bootstrap, [topic], partitions=2)
    keys = [b"a", b"b", b"c"]
    written: list[OutboxRow] = []
    for n in range(300):  # rows of 30 messages: their batches are over the broker's limit, refused whole
        key = keys[n % 3]
        # Every 100th message is too large for the broker (under our own limit); one is over ours too,
        # written before the guard existed.
        size = 150_000 if n == 150 else 30_000 if n % 100 == 50 else 200
        written.append(message(topic, key, n // 3, size))
    set_max_record_bytes(10_000_000)  # the guard of the old code: these rows got in
    for start in range(0, 300, 30):
        async with pool.acquire() as conn, conn.transaction():
            await write_outbox(conn, written[start:start + 30])
    set_max_record_bytes(100_000)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    refusing = RefusingProducer(producer, BROKER_LIMIT)
    relay = OutboxRelay(pool, refusing, schema, batch_size=100)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _empty(pool), 30, "the outbox to be published despite the big messages")
        parked = await pool.fetch("SELECT topic, key, payload, headers, reason FROM outbox_parked ORDER BY id")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
    big = [w for w in written if len(w.payload) > BROKER_LIMIT]
    assert refusing.refused > len(big)  # whole batches were refused, not only single records
    assert [(p["topic"], p["key"], p["payload"], json.loads(p["headers"])) for p in parked] == [
        (w.topic, w.key, w.payload, dict(w.headers)) for w in big]
    assert [p["reason"] for p in parked] == ["broker_refused_too_large", "record_too_large",
                                             "broker_refused_too_large"]
    records = await read_topic(kafka_bootstrap, topic, idle_s=2)
    assert Counter(r.value for r in records) == Counter(w.payload for w in written if w not in big)
    seqs: dict[bytes, list[int]] = defaultdict(list)
    for r in records:
        seqs[r.key].append(json.loads(r.value)["seq"])
    assert all(s == sorted(s) for s in seqs.values())


async def test_the_relay_applies_the_max_record_bytes_setting(
    pool: asyncpg.Pool, schema: str, database_url: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APLYPRO_MAX_RECORD_BYTES", "12345")
    settings = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url)
    assert settings.max_record_bytes == 12345
    running = await start_relay(settings, schema)
    await running.stop(0)
    assert max_record_bytes() == 12345


async def _empty(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) = 0 FROM outbox_batch"))
