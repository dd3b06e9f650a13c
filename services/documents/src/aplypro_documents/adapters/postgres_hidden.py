"""SQL of the hidden schoolings (SchoolingHiddenChanged): the newest hiding of each schooling, and the first DA
it must not get."""

from __future__ import annotations

from uuid import UUID

from aplypro_servicekit.db import Connection


async def upsert_hidden(conn: Connection, schooling_id: UUID, student_id: UUID, *, hidden: bool,
                        version: int) -> bool:
    """False when the event is stale (a version as new or newer is held)."""
    return bool(await conn.fetchval(
        "INSERT INTO hidden_schoolings VALUES ($1, $2, $3, $4) ON CONFLICT (schooling_id) DO UPDATE "
        "SET hidden = EXCLUDED.hidden, version = EXCLUDED.version "
        "WHERE hidden_schoolings.version < EXCLUDED.version RETURNING true",
        schooling_id, student_id, hidden, version))


async def unqueue_first_attribution(conn: Connection, schooling_id: UUID) -> bool:
    """Drop the schooling's queued DA if it is its first (a reissue stays). A lane rendering it holds the row: this
    waits for that lane, and then finds the DA issued (has_attribution)."""
    return bool(await conn.fetchval(
        "DELETE FROM render_queue q WHERE q.schooling_id = $1 AND q.kind = 'attribution' AND NOT EXISTS "
        "(SELECT 1 FROM documents d WHERE d.schooling_id = $1 AND d.kind = 'attribution') RETURNING true",
        schooling_id))


async def has_attribution(conn: Connection, schooling_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM documents WHERE schooling_id = $1 AND kind = 'attribution')", schooling_id))


async def is_hidden(conn: Connection, schooling_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM hidden_schoolings WHERE schooling_id = $1 AND hidden)", schooling_id))
