"""Consumer and relay guarantees on the real PostgreSQL and broker: transient errors are retried, never
dead-lettered; redeliveries change nothing; the relay keeps per-key order; logs carry no personal data."""

from __future__ import annotations

import asyncio
import json
import uuid
from importlib import resources
from typing import Any

import pytest
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import PfmpRecorded, default_registry, to_wire
from aplypro_contracts.examples import examples
from aplypro_servicekit.consumer import EventConsumer
from aplypro_servicekit.db import Connection, create_pool, migrate
from aplypro_servicekit.kafka import ensure_topics, make_producer
from aplypro_servicekit.logs import drop_personal_data
from aplypro_servicekit.outbox import OutboxRow, write_outbox
from aplypro_servicekit.relay import OutboxRelay

pytestmark = pytest.mark.integration


def record(event: Any, offset: int, topic: str = "source") -> ConsumerRecord[bytes, bytes]:
    body, headers = to_wire(event)
    return ConsumerRecord(topic, 0, offset, 0, 0, b"k", body, None, 1, len(body), list(headers.items()))


async def test_a_transient_error_is_retried_with_backoff_and_never_dead_lettered(
    database_url: str, namespace: str
) -> None:
    schema = namespace.replace(".", "_") + "kit"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    calls: list[str] = []

    async def flaky(conn: Connection, event: Any) -> None:
        calls.append(event.event_type)
        if len(calls) <= 2:
            raise ConnectionResetError("database went away")  # transient: try again later
        await conn.execute("SELECT 1")

    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"PfmpRecorded": flaky}, backoff_base=0.01)
    event = next(e for e in examples() if e.event_type == "PfmpRecorded")
    await consumer.process_batch([record(event, 0)])
    # A redelivery of the same event (a crash before the offset commit) changes nothing.
    await consumer.process_batch([record(event, 0)])
    async with pool.acquire() as conn:
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
        inbox = await conn.fetchval("SELECT count(*) FROM processed_messages")
    await pool.close()
    assert calls == ["PfmpRecorded"] * 3
    assert outbox == 0  # nothing dead-lettered
    assert inbox == 1


async def test_transient_errors_past_the_last_attempt_are_raised_so_the_batch_is_read_again(
    database_url: str, namespace: str
) -> None:
    schema = namespace.replace(".", "_") + "kit2"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])

    async def down(conn: Connection, event: Any) -> None:
        raise ConnectionRefusedError("still down")

    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"PfmpRecorded": down}, transient_attempts=3, backoff_base=0.01)
    event = next(e for e in examples() if e.event_type == "PfmpRecorded")
    with pytest.raises(ConnectionRefusedError):
        await consumer.process_batch([record(event, 0)])
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM processed_messages") == 0  # rolled back
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    await pool.close()


async def test_the_relay_publishes_in_order_per_key_and_empties_the_outbox(
    database_url: str, kafka_bootstrap: str, namespace: str
) -> None:
    schema = namespace.replace(".", "_") + "relay"
    topic = f"{namespace}relay"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    await ensure_topics(kafka_bootstrap, [topic], partitions=3)
    # Any key bytes survive the outbox (a poison record's key is dead-lettered as it came).
    keys = [str(uuid.uuid4()).encode() for _ in range(3)] + [b"\xff\x00k\xe9", "clé".encode()]
    written = [OutboxRow(topic, keys[i % 5], json.dumps({"n": i}).encode(), {"h": "v", "n": str(i)})
               for i in range(2000)]
    for start in range(0, 2000, 250):  # one outbox row per transaction: 8 rows, wider than a relay batch
        async with pool.acquire() as conn, conn.transaction():
            await write_outbox(conn, written[start:start + 250])
    async with pool.acquire() as conn:
        view = await conn.fetch("SELECT topic, key, payload, headers FROM outbox ORDER BY id")
    assert [(r["topic"], r["key"], r["payload"], json.loads(r["headers"])) for r in view] == [
        (w.topic, w.key, w.payload, w.headers) for w in written]
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    relay = OutboxRelay(pool, producer, schema, batch_size=300)
    task = asyncio.create_task(relay.run())
    seen: dict[bytes, list[int]] = {k: [] for k in keys}
    headers_seen: list[dict[str, bytes]] = []
    reader = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                              group_id=f"g{uuid.uuid4()}")
    await reader.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while sum(map(len, seen.values())) < 2000 and asyncio.get_running_loop().time() < deadline:
            for records in (await reader.getmany(timeout_ms=300)).values():
                for r in records:
                    seen[r.key].append(json.loads(r.value)["n"])
                    headers_seen.append(dict(r.headers))
        async with pool.acquire() as conn:
            left = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await reader.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        await pool.close()
    assert left == 0
    assert relay.published == 2000
    for key, numbers in seen.items():
        assert numbers == sorted(numbers), key
        assert len(numbers) == 400
    assert all(h["n"] == str(json.loads(written[int(h["n"])].payload)["n"]).encode() for h in headers_seen)


def test_personal_data_keys_never_reach_the_log_output() -> None:
    output = structlog.testing.LogCapture()
    structlog.configure(processors=[drop_personal_data, output])
    structlog.get_logger().info("student_imported", ine="000111223AB", last_name="HADDAD",
                                iban="FR7630006000011234567890189", student_id="abc")
    entry = output.entries[0]
    structlog.reset_defaults()
    assert entry["student_id"] == "abc"
    assert "000111223AB" not in json.dumps(entry)
    assert "HADDAD" not in json.dumps(entry)
    assert "FR76" not in json.dumps(entry)


async def test_events_waiting_in_the_old_outbox_move_to_the_batch_outbox_in_order(
    database_url: str, namespace: str
) -> None:
    schema = namespace.replace(".", "_") + "upgrade"
    pool = await create_pool(database_url, schema)
    first = (resources.files("aplypro_servicekit") / "migrations" / "0001_outbox_inbox.sql").read_text()
    async with pool.acquire() as conn:
        await conn.execute(first)  # a database still on the one-row-per-event outbox
        await conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz "
                           "NOT NULL DEFAULT now()); INSERT INTO schema_migrations VALUES "
                           "('aplypro_servicekit:0001_outbox_inbox.sql')")
        await conn.executemany("INSERT INTO outbox (topic, key, payload, headers) VALUES ($1, $2, $3, $4)",
                               [("t", None if n == 1 else f"k{n}".encode(), f'{{"n": {n}}}'.encode(),
                                 json.dumps({"event-type": "X", "n": str(n)})) for n in range(3)])
    applied = await migrate(pool, schema, ["aplypro_servicekit"])
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT topic, key, payload, headers FROM outbox ORDER BY id")
    await pool.close()
    assert "aplypro_servicekit:0002_outbox_batches.sql" in applied
    assert [(r["topic"], r["key"], r["payload"], json.loads(r["headers"])) for r in rows] == [
        ("t", None if n == 1 else f"k{n}".encode(), f'{{"n": {n}}}'.encode(), {"event-type": "X", "n": str(n)})
        for n in range(3)]


async def test_lanes_commit_on_their_own_and_a_failed_lane_makes_the_batch_read_again(
    database_url: str, namespace: str
) -> None:
    schema = namespace.replace(".", "_") + "lanes"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    key_a, key_b = b"student-a", b"student-b"
    database_down_for_a = True
    handled: list[bytes] = []

    async def handler(conn: Connection, event: Any) -> None:
        key = event.pfmp.pfmp_id.bytes[:1]
        if key == b"a" and database_down_for_a:
            raise ConnectionRefusedError("down for this lane")
        handled.append(key)
        await conn.execute("SELECT 1")

    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"PfmpRecorded": handler}, transient_attempts=1, lanes=2)
    batch = [marked(key_a, b"a", 0, partition=0), marked(key_b, b"b", 0, partition=1)]  # one lane a partition
    with pytest.raises(ConnectionRefusedError):
        await consumer.process_batch(batch)  # nacked: the whole batch is read again
    assert handled == [b"b"]  # the other lane committed
    database_down_for_a = False
    await consumer.process_batch(batch)  # the redelivery: lane B's event is a no-op now
    async with pool.acquire() as conn:
        inbox = await conn.fetchval("SELECT count(*) FROM processed_messages")
    await pool.close()
    assert handled == [b"b", b"a"]
    assert inbox == 2


def marked(key: bytes, marker: bytes, offset: int, *, partition: int) -> ConsumerRecord[bytes, bytes]:
    """A PfmpRecorded record whose PFMP id starts with `marker` (what a handler sees of it)."""
    template = next(e for e in examples() if isinstance(e, PfmpRecorded))
    pfmp = template.pfmp.model_copy(update={"pfmp_id": uuid.UUID(bytes=marker + bytes(15))})
    event = template.model_copy(update={"event_id": uuid.uuid4(), "pfmp": pfmp})
    body, headers = to_wire(event)
    return ConsumerRecord("source", partition, offset, 0, 0, key, body, None, len(key), len(body),
                          list(headers.items()))


async def test_a_partition_s_records_stay_in_one_lane_in_order_whatever_their_keys(
    database_url: str, namespace: str
) -> None:
    """A message keyed by one student may carry another's move (PaymentRequestsMoved): the second student's
    later message, under its own key, must not overtake it in another lane."""
    schema = namespace.replace(".", "_") + "lanes_order"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    handled: list[bytes] = []

    async def handler(conn: Connection, event: Any) -> None:
        marker = event.pfmp.pfmp_id.bytes[:1]
        if marker == b"1":
            await asyncio.sleep(0.3)  # the first one is slow: a lane of its own would let the second one pass
        handled.append(marker)
        await conn.execute("SELECT 1")

    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"PfmpRecorded": handler}, lanes=2)
    keys = [f"student-{n}".encode() for n in range(50)]
    other = next(k for k in keys if hash(k) % 2 != hash(keys[0]) % 2)  # split by key, the two went apart
    await consumer.process_batch([marked(keys[0], b"1", 0, partition=3), marked(other, b"2", 1, partition=3),
                                  marked(other, b"3", 0, partition=1)])
    await pool.close()
    assert handled.index(b"1") < handled.index(b"2")
    assert consumer.processed == 3
