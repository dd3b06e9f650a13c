"""SQL of the documents service."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection


async def upsert_student(conn: Connection, student_id: UUID, identity: dict[str, Any], version: int = 0) -> bool:
    """The student's full identity, if newer than the one held (migration 0006); False, changing nothing, if not."""
    applied = await conn.fetchval(
        "INSERT INTO students (student_id, identity, version) VALUES ($1, $2::jsonb, $3) ON CONFLICT (student_id) "
        "DO UPDATE SET identity = EXCLUDED.identity, version = EXCLUDED.version" + newer_than("students")
        + " RETURNING true",
        student_id, json.dumps(identity), version,
    )
    return bool(applied)


def newer_than(table: str) -> str:
    """The guard of a versioned upsert: a newer version, or version 0 after version 0 (unversioned v1)."""
    return f" WHERE {table}.version < EXCLUDED.version OR EXCLUDED.version = 0 AND {table}.version = 0"


async def count_stale(conn: Connection, event_type: str) -> None:
    await conn.execute("INSERT INTO stale_events VALUES ($1, 1) "
                       "ON CONFLICT (event_type) DO UPDATE SET dropped = stale_events.dropped + 1", event_type)


async def upsert_schooling(conn: Connection, row: dict[str, Any], admin_number: str) -> bool:
    """`row` is SchoolingOpened.model_dump(): the schooling's full current state (dates included; its student
    too: a merge of two students moves it to the survivor, imports.md §5.8). Returns False, changing nothing,
    when the event is not newer than the schooling held (stale)."""
    applied = await conn.fetchval(
        "INSERT INTO schoolings (schooling_id, student_id, school_year, establishment, mef, "
        "administrative_number, class_label, start_date, end_date, status, version) "
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (schooling_id) DO UPDATE SET student_id = $2, school_year = $3, establishment = $4::jsonb, mef = $5::jsonb, "
        "class_label = $7, start_date = $8, end_date = $9, status = $10, version = $11"
        + newer_than("schoolings") + " RETURNING true",
        row["schooling_id"], row["student_id"], row["school_year"], json.dumps(row["establishment"]),
        json.dumps(row["mef"]), admin_number, row["class_label"], row["start_date"], row["end_date"],
        row["status"], row["version"],
    )
    return bool(applied)


async def set_pricing(conn: Connection, schooling_id: UUID, priced: bool, rate: int | None, cap: int | None) -> None:
    await conn.execute(
        "INSERT INTO pricing VALUES ($1, $2, $3, $4) ON CONFLICT (schooling_id) DO UPDATE "
        "SET priced = $2, daily_rate_cents = $3, yearly_cap_cents = $4",
        schooling_id, priced, rate, cap,
    )


async def enqueue_attribution(conn: Connection, schooling_ids: list[UUID]) -> None:
    """Queue a DA for schoolings that have none yet and are not hidden (documents.md §6)."""
    await conn.execute(
        "INSERT INTO render_queue (schooling_id, kind) SELECT s, 'attribution' FROM unnest($1::uuid[]) s "
        "WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s AND d.kind = 'attribution') "
        "AND NOT EXISTS (SELECT 1 FROM hidden_schoolings h WHERE h.schooling_id = s AND h.hidden) "
        "ON CONFLICT DO NOTHING",
        schooling_ids,
    )


async def schoolings_of_student(conn: Connection, student_id: UUID) -> list[UUID]:
    return [r["schooling_id"] for r in await conn.fetch(
        "SELECT schooling_id FROM schoolings WHERE student_id = $1", student_id)]


async def enqueue(conn: Connection, schooling_id: UUID, kind: str, detail: dict[str, Any] | None = None) -> None:
    """Queue one document; a document of this kind already queued for the schooling stays as it is."""
    await conn.execute(
        "INSERT INTO render_queue (schooling_id, kind, detail) VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING",
        schooling_id, str(kind), None if detail is None else json.dumps(detail),
    )


async def unqueue(conn: Connection, schooling_id: UUID, kind: str) -> None:
    await conn.execute("DELETE FROM render_queue WHERE schooling_id = $1 AND kind = $2", schooling_id, str(kind))


# Everything a DA is made of (service_layer.issue.attribution_from): schooling, barème and identity.
_ATTRIBUTION_INPUTS = (
    "SELECT q.schooling_id, q.attempts, q.detail, s.student_id, s.school_year, s.establishment, s.mef, "
    "s.administrative_number, p.daily_rate_cents, p.yearly_cap_cents, st.identity "
    "FROM {source} JOIN schoolings s USING (schooling_id) JOIN pricing p USING (schooling_id) "
    "JOIN students st USING (student_id) WHERE p.priced"
)


def _inputs(rows: list[Any]) -> list[dict[str, Any]]:
    return [{**dict(r), "establishment": json.loads(r["establishment"]), "mef": json.loads(r["mef"]),
             "identity": json.loads(r["identity"]), "detail": json.loads(r["detail"]) if r["detail"] else None}
            for r in rows]  # fmt: skip


# A queued DA that can be issued, locked: the queue walked by schooling id and each row's inputs looked up by key
# (LATERAL, kept apart by OFFSET 0: a nested loop). Left to itself, the planner merge-joined the queue to `schoolings`
# and `pricing` along their keys from the lowest id, where the issued DAs pile up (each seed takes the lowest queued
# id's class): every seed read all of them again, a walk growing with the national start's 650,000 DAs. By id, the
# rows still waiting for an input (a barème refused, an identity not known yet) stay scattered among the ready ones,
# where the queue's own order would put the oldest of them in front of every seed.
SEED_SQL = (
    "SELECT x.uai, x.school_year, x.mef FROM render_queue q CROSS JOIN LATERAL ("
    "SELECT s.establishment->>'uai' AS uai, s.school_year, s.mef->>'code' AS mef FROM schoolings s "
    "JOIN pricing p USING (schooling_id) JOIN students st USING (student_id) "
    "WHERE s.schooling_id = q.schooling_id AND p.priced OFFSET 0) x "
    "WHERE q.kind = 'attribution' AND q.schooling_id <> ALL($1::uuid[]) "
    "ORDER BY q.schooling_id LIMIT 1 FOR UPDATE OF q SKIP LOCKED"
)

ClassKey = tuple[str, int, str]  # establishment UAI, school year, MEF code: DAs that share a laid-out page


def class_of(row: dict[str, Any]) -> ClassKey:
    return row["establishment"]["uai"], row["school_year"], row["mef"]["code"]


async def claim_ready(conn: Connection, limit: int, exclude: list[UUID] | None = None,
                      continue_class: ClassKey | None = None) -> list[dict[str, Any]]:
    """Queued DAs whose inputs are all known (identity, schooling, barème), locked for this renderer, a class at
    a time: the DAs of one establishment, MEF and year share a laid-out page in the renderer (stamping.py), so
    a batch drawn from a few classes renders several times faster than one drawn across the country.
    `exclude`: rows this transaction holds already (SKIP LOCKED does not skip one's own locks);
    `continue_class`: the class to take first (the one the batch's last DAs came from)."""
    claimed: list[dict[str, Any]] = []
    held = list(exclude or [])
    pending = [continue_class] if continue_class else []
    while len(claimed) < limit:
        seeded = not pending
        if pending:
            uai, school_year, mef = pending.pop()
        else:
            # A seed row (the index order, cheap), then its class through the schoolings_uai_year_class index.
            seed = await conn.fetchrow(SEED_SQL, held)
            if seed is None:
                break
            uai, school_year, mef = seed["uai"], seed["school_year"], seed["mef"]
        rows = _inputs(await conn.fetch(
            _ATTRIBUTION_INPUTS.format(source="render_queue q")
            + " AND q.kind = 'attribution' AND s.establishment->>'uai' = $2 AND s.school_year = $3 "
            "AND s.mef->>'code' = $4 AND q.schooling_id <> ALL($5::uuid[]) "
            "ORDER BY q.schooling_id LIMIT $1 FOR UPDATE OF q SKIP LOCKED",
            limit - len(claimed), uai, school_year, mef, held,
        ))  # fmt: skip
        if not rows and seeded:  # cannot happen (the seed is ours and matches); never loop on it
            break
        claimed += rows
        held += [row["schooling_id"] for row in rows]
    return claimed


async def attribution_inputs(conn: Connection, schooling_id: UUID) -> dict[str, Any] | None:
    """The inputs of one schooling's DA as they stand now, queued or not; None if incomplete or unpriced."""
    rows = await conn.fetch(
        _ATTRIBUTION_INPUTS.format(source="(SELECT $1::uuid AS schooling_id, 0 AS attempts, NULL::jsonb AS detail) q"), schooling_id
    )
    return _inputs(rows)[0] if rows else None


async def current_document(conn: Connection, schooling_id: UUID, kind: str) -> dict[str, Any] | None:
    """The highest version issued of one kind for a schooling ("current", documents.md §6)."""
    row = await conn.fetchrow(
        "SELECT document_id, number, version, storage_ref, sha256, input_sha256, created_at FROM documents "
        "WHERE schooling_id = $1 AND kind = $2 ORDER BY version DESC LIMIT 1",
        schooling_id, kind,
    )
    return dict(row) if row else None


async def schooling_known(conn: Connection, schooling_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM schoolings WHERE schooling_id = $1)", schooling_id))


async def current_attributions(
    conn: Connection, uai: str, school_year: int, class_label: str | None
) -> list[dict[str, Any]]:
    """The current DA of every schooling of an establishment and year, optionally of one class."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (d.schooling_id) d.schooling_id, d.number, d.version, d.storage_ref, d.sha256, "
        "d.created_at, s.class_label, st.identity->>'last_name' AS last_name, "
        "st.identity->'first_names' AS first_names "
        "FROM documents d JOIN schoolings s USING (schooling_id) JOIN students st USING (student_id) "
        "WHERE d.kind = 'attribution' AND s.establishment->>'uai' = $1 AND s.school_year = $2 "
        "AND ($3::text IS NULL OR s.class_label = $3) "
        "ORDER BY d.schooling_id, d.version DESC",
        uai, school_year, class_label,
    )
    return [{**dict(r), "first_names": json.loads(r["first_names"])} for r in rows]


async def record_document(conn: Connection, row: dict[str, Any]) -> None:
    """A document issued and rendered at once (its PDF stored already); the issuer uses postgres_render."""
    await conn.execute(
        "INSERT INTO documents (document_id, kind, schooling_id, number, version, storage_ref, sha256, size_bytes, "
        "input_sha256, rendered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())",
        row["document_id"], row["kind"], row["schooling_id"], row["number"], row["version"], row["storage_ref"],
        row["sha256"], row["size_bytes"], row.get("input_sha256"),
    )
    await unqueue(conn, row["schooling_id"], row["kind"])


async def record_failure(conn: Connection, keys: list[tuple[UUID, str]], error: str) -> None:
    """One more failed attempt for each queued (schooling, kind)."""
    await conn.execute(
        "UPDATE render_queue q SET attempts = attempts + 1, last_error = $3 "
        "FROM unnest($1::uuid[], $2::text[]) AS k(schooling_id, kind) "
        "WHERE q.schooling_id = k.schooling_id AND q.kind = k.kind",
        [schooling_id for schooling_id, _ in keys], [kind for _, kind in keys], error[:500],
    )


async def drop_from_queue(conn: Connection, schooling_id: UUID, kind: str) -> None:
    await unqueue(conn, schooling_id, kind)


async def drop_many_from_queue(conn: Connection, keys: list[tuple[UUID, str]]) -> None:
    """drop_from_queue for many (schooling, kind) at once: one statement."""
    if keys:
        await conn.execute(
            "DELETE FROM render_queue q USING unnest($1::uuid[], $2::text[]) AS k(schooling_id, kind) "
            "WHERE q.schooling_id = k.schooling_id AND q.kind = k.kind",
            [schooling_id for schooling_id, _ in keys], [kind for _, kind in keys],
        )


async def current_documents(conn: Connection, keys: list[tuple[UUID, str]]) -> dict[tuple[UUID, str], dict[str, Any]]:
    """current_document for many (schooling, kind) at once, keyed by them; a key without a document is absent.
    What the issuer needs of each: the number, the version (next_version is one more) and the input hash."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (d.schooling_id, d.kind) d.schooling_id, d.kind, d.number, d.version, d.input_sha256 "
        "FROM documents d JOIN unnest($1::uuid[], $2::text[]) AS k(schooling_id, kind) "
        "ON d.schooling_id = k.schooling_id AND d.kind = k.kind ORDER BY d.schooling_id, d.kind, d.version DESC",
        [schooling_id for schooling_id, _ in keys], [kind for _, kind in keys],
    )
    return {(r["schooling_id"], r["kind"]): dict(r) for r in rows}
