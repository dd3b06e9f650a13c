"""The inbox: which events a consumer already processed, recorded in the same transaction as its effects.

A dead-lettered event's row says where it was dead-lettered, so that a replay of the dead letter (and
only a replay: never a duplicate publication or a redelivery) is processed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

from .db import Connection, json_columns, json_rows


def body_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class EventIdReused(ValueError):
    """Same event id, different content: a producer bug worth a dead letter and an alert."""

    code = "event_id_reused"


class Claim(NamedTuple):
    """One record to claim: its inbox id, body hash, and its position if it is a replayed dead letter."""

    inbox_id: str
    body_sha256: str
    replay_position: str | None = None


async def claim(conn: Connection, consumer: str, items: Sequence[Claim]) -> tuple[set[str], set[tuple[str, str]]]:
    """Record the claims; returns (ids to process, (id, body hash) pairs whose id was stored with another body).

    An id is to process the first time it is seen, or when it is a replay of a dead-lettered event coming
    from another position than the one it was dead-lettered at (a redelivered replay stays a no-op).
    """
    if not items:
        return set(), set()
    rows = await conn.fetch(
        "INSERT INTO processed_messages (consumer, event_id, body_sha256) "
        f"SELECT $1, {json_columns(['text', 'text'])} FROM jsonb_array_elements($2::jsonb) AS r "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        json_rows((c.inbox_id, c.body_sha256) for c in items),
    )
    fresh = {r["event_id"] for r in rows}
    replays = [(c.inbox_id, c.body_sha256, c.replay_position) for c in items
               if c.inbox_id not in fresh and c.replay_position is not None]
    if replays:
        # Processed once more: the row is back to "processed" unless this attempt dead-letters it again.
        rows = await conn.fetch(
            "UPDATE processed_messages p SET dead_lettered_at = NULL, processed_at = now() "
            "FROM jsonb_array_elements($2::jsonb) AS r "
            "WHERE p.consumer = $1 AND p.event_id = r->>0 AND p.body_sha256 = r->>1 "
            "AND p.dead_lettered_at IS NOT NULL AND p.dead_lettered_at <> r->>2 RETURNING p.event_id",
            consumer, json_rows(replays),
        )
        fresh |= {r["event_id"] for r in rows}
    seen = [(c.inbox_id, c.body_sha256) for c in items if c.inbox_id not in fresh]
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
    return fresh, {(i, h) for i, h in seen if stored.get(i) != h}


async def mark_dead_lettered(conn: Connection, consumer: str, items: Sequence[tuple[str, str]]) -> None:
    """Record that these claimed ids were dead-lettered, each at its (topic:partition:offset) position."""
    if items:
        await conn.execute(
            "UPDATE processed_messages p SET dead_lettered_at = r->>1 FROM jsonb_array_elements($2::jsonb) AS r "
            "WHERE p.consumer = $1 AND p.event_id = r->>0",
            consumer, json_rows(items),
        )
