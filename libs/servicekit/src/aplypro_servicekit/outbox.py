"""Writing outgoing events into the outbox, inside the caller's transaction: one row per transaction."""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Mapping, Sequence
from typing import NamedTuple
from uuid import UUID

from aplypro_contracts import Envelope
from aplypro_contracts.registry import event_headers, wire_body
from pydantic_core import to_json

from . import tracing
from .db import Connection
from .record_size import check_record_sizes


class OutboxRow(NamedTuple):
    """One message to publish (a tuple: thousands are built per batch)."""

    topic: str
    key: bytes | None
    payload: bytes
    headers: Mapping[str, str]


def event_row(topic: str, key: UUID | str, event: Envelope) -> OutboxRow:
    """The outbox row of one event; the key is an internal id (text), never personal data.

    Tracing on, its headers keep the trace context of the event that caused it (`tracing.py`).
    """
    headers = event_headers(event)
    if tracing.enabled() and (parent := tracing.traceparent_for(event.causation_id, event.correlation_id)):
        headers = {**headers, tracing.TRACEPARENT: parent}
    return OutboxRow(topic, str(key).encode(), wire_body(event), headers)


# Bounds one row (the relay's unit of work) and keeps the `outbox` view's per-message ids unique.
MAX_MESSAGES_PER_ROW = 10_000


def notify_channel(schema: str) -> str:
    """The channel a schema's relay listens on (the same expression is spelled out in SQL)."""
    return f"outbox_{schema}"


async def write_outbox(conn: Connection, rows: Sequence[OutboxRow]) -> None:
    """Insert the transaction's events as one outbox row (a few for a very large batch), in order.

    Raises `RecordTooLarge` before writing anything if one message is bigger than the broker takes.
    """
    if tracing.enabled():
        rows = await _traced(conn, rows)
    check_record_sizes(rows)
    for start in range(0, len(rows), MAX_MESSAGES_PER_ROW):
        chunk = rows[start:start + MAX_MESSAGES_PER_ROW]
        # base64 carries any key bytes (a poison record's too) through JSON unchanged.
        envelopes = [(r.topic, None if r.key is None else b64encode(r.key).decode(), r.headers) for r in chunk]
        await conn.execute(
            "INSERT INTO outbox_batch (size, payloads, envelopes) VALUES ($1, $2, $3)",
            len(chunk), [r.payload for r in chunk], to_json(envelopes).decode(),
        )
    if rows:
        # Wakes this schema's relay at commit instead of at its next poll (sent only if the caller commits).
        await conn.execute("SELECT pg_notify('outbox_' || current_schema(), '')")


async def _traced(conn: Connection, rows: Sequence[OutboxRow]) -> Sequence[OutboxRow]:
    """Rows without a trace context get the current one; else (work done later, off a table) the one
    stored for their key by the consumer; else a new trace (an import command)."""
    if all(tracing.TRACEPARENT in r.headers for r in rows):
        return rows
    current = tracing.current_traceparent()
    by_key: dict[str, str] = {}
    if current is None:
        by_key = await tracing.remembered(conn, sorted({r.key.decode("utf-8", "replace") for r in rows
                                                        if r.key is not None and tracing.TRACEPARENT not in r.headers}))
    root: str | None = None
    out = []
    for row in rows:
        if tracing.TRACEPARENT in row.headers:
            out.append(row)
            continue
        parent = current or (by_key.get(row.key.decode("utf-8", "replace")) if row.key is not None else None)
        if parent is None:
            parent = root = root or tracing.root_traceparent("outbox write")
        out.append(row if parent is None else row._replace(headers={**row.headers, tracing.TRACEPARENT: parent}))
    return out
