"""Writing outgoing events into the outbox, inside the caller's transaction."""

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


async def write_outbox(conn: Connection, rows: Sequence[OutboxRow]) -> None:
    """Insert rows in one statement (unnest keeps a batch to one round trip)."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO outbox (topic, key, payload, headers) "
        "SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])",
        [r.topic for r in rows],
        [r.key for r in rows],
        [r.payload for r in rows],
        [json.dumps(r.headers) for r in rows],
    )
