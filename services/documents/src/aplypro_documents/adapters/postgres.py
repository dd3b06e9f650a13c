"""SQL of the documents service."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection


async def upsert_student(conn: Connection, student_id: UUID, identity: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO students VALUES ($1, $2::jsonb) ON CONFLICT (student_id) DO UPDATE SET identity = $2::jsonb",
        student_id, json.dumps(identity),
    )


async def upsert_schooling(conn: Connection, row: dict[str, Any], admin_number: str) -> None:
    await conn.execute(
        "INSERT INTO schoolings (schooling_id, student_id, school_year, establishment, mef, "
        "administrative_number) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) ON CONFLICT (schooling_id) "
        "DO UPDATE SET school_year = $3, establishment = $4::jsonb, mef = $5::jsonb",
        row["schooling_id"], row["student_id"], row["school_year"], json.dumps(row["establishment"]),
        json.dumps(row["mef"]), admin_number,
    )


async def set_pricing(conn: Connection, schooling_id: UUID, priced: bool, rate: int | None, cap: int | None) -> None:
    await conn.execute(
        "INSERT INTO pricing VALUES ($1, $2, $3, $4) ON CONFLICT (schooling_id) DO UPDATE "
        "SET priced = $2, daily_rate_cents = $3, yearly_cap_cents = $4",
        schooling_id, priced, rate, cap,
    )


async def enqueue_attribution(conn: Connection, schooling_ids: list[UUID]) -> None:
    """Queue a DA for schoolings that have none yet."""
    await conn.execute(
        "INSERT INTO render_queue (schooling_id, kind) SELECT s, 'attribution' FROM unnest($1::uuid[]) s "
        "WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s AND d.kind = 'attribution') "
        "ON CONFLICT DO NOTHING",
        schooling_ids,
    )


async def schoolings_of_student(conn: Connection, student_id: UUID) -> list[UUID]:
    return [r["schooling_id"] for r in await conn.fetch(
        "SELECT schooling_id FROM schoolings WHERE student_id = $1", student_id)]


async def claim_ready(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Queued DAs whose inputs are all known (identity, schooling, barème), locked for this renderer."""
    rows = await conn.fetch(
        "SELECT q.schooling_id, q.attempts, s.student_id, s.school_year, s.establishment, s.mef, "
        "s.administrative_number, p.daily_rate_cents, p.yearly_cap_cents, st.identity "
        "FROM render_queue q JOIN schoolings s USING (schooling_id) JOIN pricing p USING (schooling_id) "
        "JOIN students st USING (student_id) WHERE q.kind = 'attribution' AND p.priced "
        "ORDER BY q.schooling_id LIMIT $1 FOR UPDATE OF q SKIP LOCKED",
        limit,
    )
    return [{**dict(r), "establishment": json.loads(r["establishment"]), "mef": json.loads(r["mef"]),
             "identity": json.loads(r["identity"])} for r in rows]


async def record_document(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO documents (document_id, kind, schooling_id, number, version, storage_ref, sha256, size_bytes) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        row["document_id"], row["kind"], row["schooling_id"], row["number"], row["version"], row["storage_ref"],
        row["sha256"], row["size_bytes"],
    )
    await conn.execute("DELETE FROM render_queue WHERE schooling_id = $1 AND kind = $2",
                       row["schooling_id"], row["kind"])


async def record_failure(conn: Connection, schooling_ids: list[UUID], error: str) -> None:
    await conn.execute(
        "UPDATE render_queue SET attempts = attempts + 1, last_error = $2 WHERE schooling_id = ANY($1)",
        schooling_ids, error[:500],
    )


async def drop_from_queue(conn: Connection, schooling_id: UUID) -> None:
    await conn.execute("DELETE FROM render_queue WHERE schooling_id = $1", schooling_id)
