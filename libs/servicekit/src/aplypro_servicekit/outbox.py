"""Writing outgoing events into the outbox, inside the caller's transaction: one row per transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from aplypro_contracts import Envelope, to_wire

from .db import Connection


@dataclass(frozen=True)
class OutboxRow:
    topic: str
    key: bytes | None
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)


def event_row(topic: str, key: UUID | str, event: Envelope) -> OutboxRow:
    """The outbox row of one event; the key is an internal id, never personal data."""
    payload, headers = to_wire(event)
    return OutboxRow(topic, str(key).encode(), payload, {k: v.decode() for k, v in headers.items()})


# Bounds one row (the relay's unit of work) and keeps the `outbox` view's per-message ids unique.
MAX_MESSAGES_PER_ROW = 10_000


async def write_outbox(conn: Connection, rows: Sequence[OutboxRow]) -> None:
    """Insert the transaction's events as one outbox row (a few for a very large batch), in order."""
    for start in range(0, len(rows), MAX_MESSAGES_PER_ROW):
        chunk = rows[start:start + MAX_MESSAGES_PER_ROW]
        await conn.execute(
            "INSERT INTO outbox_batch (size, topics, keys, payloads, headers) VALUES ($1, $2, $3, $4, $5)",
            len(chunk),
            [r.topic for r in chunk],
            [r.key for r in chunk],
            [r.payload for r in chunk],
            [json.dumps(r.headers) for r in chunk],
        )
