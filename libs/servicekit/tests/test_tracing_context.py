"""Trace context through the consumer and the outbox on the real PostgreSQL (tracing on, spans in memory):
the consumer's span is a child of the record's `traceparent`; what the handler writes carries it on (a
per-event handler: the current span; a batch handler: by `causation_id`); work done later for the same
key continues it (`trace_context`); a write with no context starts a trace."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import default_registry, to_wire
from aplypro_contracts.students import StudentIneStatusChangedV1
from aplypro_servicekit import tracing
from aplypro_servicekit.consumer import EventConsumer
from aplypro_servicekit.db import Connection, create_pool, migrate
from aplypro_servicekit.outbox import event_row, write_outbox
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = pytest.mark.integration

INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{INCOMING_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Any:
    exporter = InMemorySpanExporter()
    assert tracing.configure_tracing("kit", True, processor=SimpleSpanProcessor(exporter))
    yield exporter
    tracing.disable()


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[Any]:
    schema = namespace.replace(".", "_") + "trace"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    yield pool
    await pool.close()


def incoming(student: uuid.UUID, offset: int, traceparent: str | None = INCOMING) -> tuple[Any, Any]:
    event = StudentIneStatusChangedV1(producer="students", student_id=student, ine_status="found", version=1)
    body, headers = to_wire(event)
    if traceparent:
        headers = {**headers, "traceparent": traceparent.encode()}
    return event, ConsumerRecord("source", 0, offset, 0, 0, str(student).encode(), body, None, 1, len(body),
                                 list(headers.items()))


def follow_up(cause: Any) -> Any:
    return StudentIneStatusChangedV1(producer="kit", student_id=cause.student_id, ine_status="not_found",
                                     version=2, causation_id=cause.event_id, correlation_id=cause.correlation_id)


async def outbox_traceparents(pool: Any) -> list[str | None]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT headers FROM outbox ORDER BY id")
    return [json.loads(r["headers"]).get("traceparent") for r in rows]


@pytest.mark.parametrize("batch", [False, True], ids=["per-event handler", "batch handler"])
async def test_the_handlers_writes_continue_the_incoming_trace(pool: Any, spans: InMemorySpanExporter,
                                                               batch: bool) -> None:
    async def one(conn: Connection, event: Any) -> None:
        await write_outbox(conn, [event_row("out", event.student_id, follow_up(event))])

    async def many(conn: Connection, events: list[Any]) -> None:
        # One write for the whole batch, outside any event's span: each row finds its cause's span.
        await write_outbox(conn, [event_row("out", e.student_id, follow_up(e)) for e in events])

    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"StudentIneStatusChanged": one}, batch_handler=many if batch else None)
    first, second = uuid.uuid4(), uuid.uuid4()
    (_, traced), (_, untraced) = incoming(first, 0), incoming(second, 1, traceparent=None)
    await consumer.process_batch([traced, untraced])

    consumed = {(s.attributes or {})["messaging.kafka.offset"]: s for s in spans.get_finished_spans()
                if s.name == "StudentIneStatusChanged process"}
    assert set(consumed) == {0, 1}
    assert f"{consumed[0].context.trace_id:032x}" == INCOMING_TRACE  # a child of the record's header
    assert consumed[0].parent is not None
    assert consumed[0].parent.span_id == 0x00f067aa0ba902b7
    assert consumed[1].parent is None  # no header: its own trace
    assert await outbox_traceparents(pool) == [tracing.format_traceparent(consumed[o].context) for o in (0, 1)]

    # Later, outside any consumed event (a document issued off a queue): a row for the same key carries
    # on the trace of the latest event handled for it; a key never seen starts a new trace.
    spans.clear()
    async with pool.acquire() as conn, conn.transaction():
        later = [event_row("out", key, StudentIneStatusChangedV1(producer="kit", student_id=key,
                                                                  ine_status="found", version=3))
                 for key in (first, uuid.uuid4())]
        await write_outbox(conn, later)
    parents = (await outbox_traceparents(pool))[2:]
    assert parents[0] == tracing.format_traceparent(consumed[0].context)
    (root,) = spans.get_finished_spans()
    assert root.name == "outbox write"
    assert parents[1] == tracing.format_traceparent(root.context)
    assert f"{root.context.trace_id:032x}" != INCOMING_TRACE


async def test_a_dead_lettered_events_span_says_so(pool: Any, spans: InMemorySpanExporter) -> None:
    class Refused(Exception):
        code = "refused_for_the_test"

    async def refuse(conn: Connection, event: Any) -> None:
        raise Refused("no")

    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers={"StudentIneStatusChanged": refuse})
    _, record = incoming(uuid.uuid4(), 0)
    await consumer.process_batch([record])
    (span,) = [s for s in spans.get_finished_spans() if s.name == "StudentIneStatusChanged process"]
    assert not span.status.is_ok
    assert span.status.description == "refused_for_the_test"
    # The dead letter keeps the original's trace context.
    assert await outbox_traceparents(pool) == [INCOMING]
