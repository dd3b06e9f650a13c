"""An event id seen again with another body is dead-lettered (`event_id_reused`), whether the first body was
processed in an earlier batch or earlier in the same one; the same body again is a duplicate. A consumer may
send its given-up messages elsewhere than `<topic>.dlt` (the students' inbound `.rejected` topics)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import PfmpRecorded, default_registry, to_wire
from aplypro_contracts.examples import examples
from aplypro_servicekit.consumer import EventConsumer
from aplypro_servicekit.db import Connection, create_pool, migrate
from aplypro_servicekit.deadletter import SourceRecord, dead_letter_row
from aplypro_servicekit.outbox import OutboxRow

pytestmark = pytest.mark.integration


def record(event: Any, offset: int) -> ConsumerRecord[bytes, bytes]:
    body, headers = to_wire(event)
    return ConsumerRecord("source", 0, offset, 0, 0, b"k", body, None, 1, len(body), list(headers.items()))


def elsewhere(record: SourceRecord, exc: BaseException, *, service: str, attempts: int,
              consumer: str | None = None) -> OutboxRow:
    row = dead_letter_row(record, exc, service=service, attempts=attempts, consumer=consumer)
    return row._replace(topic="source.rejected")


@pytest.mark.parametrize("same_batch", [True, False], ids=["same batch", "later batch"])
async def test_a_reused_event_id_with_another_body_is_dead_lettered_and_a_same_body_is_a_duplicate(
    database_url: str, namespace: str, same_batch: bool,
) -> None:
    schema = namespace.replace(".", "_") + "reuse"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    handled: list[Any] = []

    async def handle(conn: Connection, event: Any) -> None:
        handled.append(event)

    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"PfmpRecorded": handle}, dead_letter=elsewhere)
    event = next(e for e in examples() if isinstance(e, PfmpRecorded))
    other = event.model_copy(update={"producer": "someone-else"})  # same event_id, another body
    batches = ([[record(event, 0), record(event, 1), record(other, 2)]] if same_batch
               else [[record(event, 0)], [record(event, 1), record(other, 2)]])
    try:
        for batch in batches:
            await consumer.process_batch(batch)
        rows = await pool.fetch("SELECT topic, headers FROM outbox")
    finally:
        await pool.close()
    assert handled == [event]
    headers = [json.loads(r["headers"]) for r in rows]
    assert [(r["topic"], h["dlt-reason-code"], h["dlt-source-offset"]) for r, h in zip(rows, headers, strict=True)] \
        == [("source.rejected", "event_id_reused", "2")]
