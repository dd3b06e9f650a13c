"""SQL of the hidden-schooling fact (migration 0009): applied only when newer than the one held."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from aplypro_servicekit.db import Connection


async def apply_hidden(conn: Connection, schooling_id: UUID, hidden: bool, version: int) -> bool:
    """False when `version` is not newer than the one held (a replay, or the event after the API's answer)."""
    applied = await conn.fetchval(
        "INSERT INTO hidden_schoolings VALUES ($1, $2, $3) ON CONFLICT (schooling_id) DO UPDATE "
        "SET hidden = EXCLUDED.hidden, version = EXCLUDED.version WHERE hidden_schoolings.version < EXCLUDED.version "
        "RETURNING true", schooling_id, hidden, version)
    return applied is not None


async def hidden_among(conn: Connection, schooling_ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch("SELECT schooling_id FROM hidden_schoolings WHERE hidden AND "
                            "schooling_id = ANY($1::uuid[])", list(schooling_ids))
    return {r["schooling_id"] for r in rows}
