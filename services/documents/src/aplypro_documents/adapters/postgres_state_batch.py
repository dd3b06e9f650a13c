"""SQL of the students and schoolings a batch at a time (state_batch.py): read locked and written back, the decision
state of the schoolings whose abrogations are reviewed, the abrogations queued and dropped, one statement each.

An identity is personal data: written here, never read back nor logged.
"""

from __future__ import annotations

from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_documents.adapters.postgres_batch_rows import Row, insert_new, update_held

STUDENT_COLUMNS = ("student_id", "identity", "version")
_STUDENT_TYPES = ("uuid", "jsonb", "int")
SCHOOLING_COLUMNS = ("schooling_id", "student_id", "school_year", "establishment", "mef", "class_label", "start_date",
                     "end_date", "status", "version")
_SCHOOLING_TYPES = ("uuid", "uuid", "int", "jsonb", "jsonb", "text", "date", "date", "text", "int")


async def student_versions_for_update(conn: Connection, student_ids: list[UUID]) -> dict[UUID, int]:
    """The version of each student's identity held, locked (in key order: two lanes never wait in a cycle)."""
    rows = await conn.fetch("SELECT student_id, version FROM students WHERE student_id = ANY($1::uuid[]) "
                            "ORDER BY student_id FOR UPDATE", student_ids)
    return {r["student_id"]: r["version"] for r in rows}


async def write_students(conn: Connection, rows: list[Row], held: set[UUID]) -> None:
    """Identities (as JSON text) as the fold leaves them: students read locked updated, the others inserted."""
    await update_held(conn, "students", STUDENT_COLUMNS, _STUDENT_TYPES,
                      [r for r in rows if r["student_id"] in held], ("student_id",))
    await insert_new(conn, "students", STUDENT_COLUMNS, _STUDENT_TYPES,
                     [r for r in rows if r["student_id"] not in held], "student_id")


async def schoolings_for_update(conn: Connection, student_ids: list[UUID], schooling_ids: list[UUID]) -> list[Row]:
    """These schoolings and every schooling of these students, locked, as the abrogation rule sees them (and their
    version): the students' own schoolings are what their events queue DAs for and review."""
    rows = await conn.fetch(
        "SELECT schooling_id, student_id, school_year, start_date, end_date, mef->>'code' AS mef_code, "
        "establishment->>'uai' AS uai, version FROM schoolings "
        "WHERE student_id = ANY($1::uuid[]) OR schooling_id = ANY($2::uuid[]) ORDER BY schooling_id FOR UPDATE",
        student_ids, schooling_ids,
    )
    return [dict(r) for r in rows]


async def write_schoolings(conn: Connection, rows: list[Row], held: set[UUID]) -> None:
    """Schoolings (establishment and MEF as JSON text) as the fold leaves them: those read locked updated, keeping
    their administrative number; the others inserted with the one each row carries."""
    await update_held(conn, "schoolings", SCHOOLING_COLUMNS, _SCHOOLING_TYPES,
                      [r for r in rows if r["schooling_id"] in held], ("schooling_id",))
    await insert_new(conn, "schoolings", (*SCHOOLING_COLUMNS, "administrative_number"), (*_SCHOOLING_TYPES, "text"),
                     [r for r in rows if r["schooling_id"] not in held], "schooling_id")


async def decision_inputs(conn: Connection, schooling_ids: list[UUID]) -> list[Row]:
    """What postgres_decisions.DecisionState is made of, for schoolings known or not yet (a barème or a queued DA
    may come first), and whether each is hidden (a hidden one gets no first DA queued)."""
    rows = await conn.fetch(
        "SELECT s AS schooling_id, p.priced, "
        "EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s AND d.kind = 'attribution') AS issued, "
        "EXISTS (SELECT 1 FROM render_queue q WHERE q.schooling_id = s AND q.kind = 'attribution') AS queued, "
        "EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s AND d.kind = 'abrogation') AS abrogated, "
        "EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s AND d.kind = 'withdrawal') "
        "OR EXISTS (SELECT 1 FROM render_queue q WHERE q.schooling_id = s AND q.kind = 'withdrawal') AS withdrawn, "
        "EXISTS (SELECT 1 FROM hidden_schoolings h WHERE h.schooling_id = s AND h.hidden) AS hidden "
        "FROM unnest($1::uuid[]) AS s LEFT JOIN pricing p ON p.schooling_id = s",
        schooling_ids,
    )
    return [dict(r) for r in rows]


async def review_abrogations(conn: Connection, dropped: list[UUID], queued: list[UUID]) -> None:
    """The abrogations the batch's reviews leave: `dropped` taken off the queue (a review's last word, or one before
    its last: queued again afresh), then `queued` queued where none is (one already queued stays as it is)."""
    if dropped:
        await conn.execute("DELETE FROM render_queue WHERE kind = 'abrogation' AND schooling_id = ANY($1::uuid[])",
                           dropped)
    if queued:
        await conn.execute("INSERT INTO render_queue (schooling_id, kind) SELECT s, 'abrogation' "
                           "FROM unnest($1::uuid[]) AS s ON CONFLICT DO NOTHING", queued)
