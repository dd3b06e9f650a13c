"""The inbox: which events a consumer already processed, recorded in the same transaction as its effects."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .db import Connection, json_columns, json_rows


def body_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class EventIdReused(ValueError):
    """Same event id, different content: a producer bug worth a dead letter and an alert."""

    code = "event_id_reused"


async def claim(
    conn: Connection, consumer: str, items: Sequence[tuple[str, str]]
) -> tuple[set[str], set[str]]:
    """Record (event_id, body hash) pairs; returns (first-time ids, ids reused with other content)."""
    if not items:
        return set(), set()
    rows = await conn.fetch(
        "INSERT INTO processed_messages (consumer, event_id, body_sha256) "
        f"SELECT $1, {json_columns(['text', 'text'])} FROM jsonb_array_elements($2::jsonb) AS r "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        json_rows(items),
    )
    fresh = {r["event_id"] for r in rows}
    seen = [(i, h) for i, h in items if i not in fresh]
    if not seen:
        return fresh, set()
    stored = {
        r["event_id"]: r["body_sha256"]
        for r in await conn.fetch(
            "SELECT event_id, body_sha256 FROM processed_messages WHERE consumer = $1 AND event_id = ANY($2)",
            consumer,
            [i for i, _ in seen],
        )
    }
    return fresh, {i for i, h in seen if stored.get(i) != h}
