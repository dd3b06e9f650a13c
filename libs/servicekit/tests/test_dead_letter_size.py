"""Size never blocks a consumer: a dead letter of a too-big original keeps its headers and a truncated
body (saying so), and a handler whose outgoing event is too big is dead-lettered (`record_too_large`)
while the rest of the batch is applied. Real PostgreSQL; the limit lowered to keep records small."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import default_registry, to_wire
from aplypro_contracts.examples import examples
from aplypro_servicekit.consumer import BatchHandler, EventConsumer
from aplypro_servicekit.db import Connection, create_pool, migrate
from aplypro_servicekit.deadletter import TRUNCATED_HEADER
from aplypro_servicekit.outbox import OutboxRow, write_outbox
from aplypro_servicekit.record_size import record_size, set_max_record_bytes

pytestmark = pytest.mark.integration

LIMIT = 20_000


@pytest.fixture(autouse=True)
def small_limit() -> Iterator[None]:
    set_max_record_bytes(LIMIT)
    yield
    set_max_record_bytes(None)


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = namespace.replace(".", "_") + "size"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    await pool.execute("CREATE TABLE applied (event_id uuid NOT NULL)")
    yield pool
    await pool.close()


def raw(value: bytes, offset: int, headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("source", 0, offset, 0, 0, b"k", value, None, 1, len(value), headers)


def record(event: Any, offset: int) -> ConsumerRecord[bytes, bytes]:
    body, headers = to_wire(event)
    return raw(body, offset, list(headers.items()))


def pfmp_recorded() -> Any:
    event = next(e for e in examples() if e.event_type == "PfmpRecorded")
    return event.model_copy(update={"event_id": uuid.uuid4()})


async def outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT topic, key, payload, headers FROM outbox ORDER BY id"))


async def apply(conn: Connection, event: Any) -> None:
    await conn.execute("INSERT INTO applied VALUES ($1)", event.event_id)


@pytest.mark.parametrize("header_bytes", [10, 3 * LIMIT])
async def test_a_dead_letter_of_a_too_big_record_keeps_its_headers_and_a_truncated_body(
    pool: asyncpg.Pool, header_bytes: int
) -> None:
    # A poison record over the limit (the broker took it), a good event after it.
    poison = b'{"not": "json' + b"x" * (3 * LIMIT)
    good = pfmp_recorded()
    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"PfmpRecorded": apply})
    await consumer.process_batch([raw(poison, 0, [("trace", b"t" * header_bytes)]), record(good, 1)])

    [dead] = await outbox(pool)
    headers = json.loads(dead["headers"])
    assert dead["topic"] == "source.dlt"
    assert headers[TRUNCATED_HEADER] == str(len(poison))
    assert headers["dlt-reason-code"] == "malformed"
    assert headers["dlt-source-offset"] == "0"
    assert poison.startswith(dead["payload"])
    assert record_size(OutboxRow(dead["topic"], dead["key"], dead["payload"], headers)) <= LIMIT
    if header_bytes < LIMIT:
        assert headers["trace"] == "t" * header_bytes  # the original headers are kept
    else:
        assert "trace" not in headers  # too big even alone: only ours are kept, and that is said
        assert headers["dlt-headers-dropped"] == "true"
    assert await pool.fetchval("SELECT count(*) FROM applied WHERE event_id = $1", good.event_id) == 1


async def _write(conn: Connection, event: Any, size: int) -> None:
    await write_outbox(conn, [OutboxRow("out", b"k", b"x" * size, {"event-type": "Out"})])
    await apply(conn, event)


@pytest.mark.parametrize("with_batch_handler", [False, True])
async def test_a_handler_whose_outgoing_event_is_too_big_is_dead_lettered_and_the_batch_goes_on(
    pool: asyncpg.Pool, with_batch_handler: bool
) -> None:
    too_big, fine = pfmp_recorded(), pfmp_recorded()
    size = {too_big.event_id: 2 * LIMIT, fine.event_id: 100}

    async def on_pfmp(conn: Connection, event: Any) -> None:
        await _write(conn, event, size[event.event_id])

    async def on_batch(conn: Connection, events: list[Any]) -> None:
        for event in events:
            await _write(conn, event, size[event.event_id])

    batch_handler: BatchHandler | None = on_batch if with_batch_handler else None
    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"PfmpRecorded": on_pfmp}, batch_handler=batch_handler)
    await consumer.process_batch([record(too_big, 0), record(fine, 1)])

    rows = await outbox(pool)
    assert [r["topic"] for r in rows] == ["out", "source.dlt"]
    assert len(rows[0]["payload"]) == 100  # the good event's outgoing event
    dead_headers = json.loads(rows[1]["headers"])
    assert dead_headers["dlt-reason-code"] == "record_too_large"
    assert dead_headers["dlt-source-offset"] == "0"
    assert rows[1]["payload"] == to_wire(too_big)[0]  # the original, whole: it is small
    assert {r["event_id"] for r in await pool.fetch("SELECT event_id FROM applied")} == {fine.event_id}
