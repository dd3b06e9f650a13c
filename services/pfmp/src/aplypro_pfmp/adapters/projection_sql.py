"""SQL of the students projection a batch at a time (service_layer/projection_batch.py): the rows of the batch's
students and schoolings read once, locked, and the folded rows written back in one statement a table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters.establishments_sql import EstablishmentFacts

Row = dict[str, Any]

# The projected columns and their types (those upsert_student / upsert_schooling write; the others, merged_into
# and the like, are left as they are).
STUDENT_COLUMNS = {"student_id": "uuid", "ine": "text", "last_name": "text", "first_names": "text[]",
                   "asp_data_ready": "bool", "da_identity_sha": "text", "da_identity_at": "timestamptz",
                   "identity_version": "int"}
SCHOOLING_COLUMNS = {"schooling_id": "uuid", "student_id": "uuid", "uai": "text", "school_year": "int",
                     "status": "text", "start_date": "date", "end_date": "date", "version": "int",
                     "class_label": "text", "academy_code": "text", "mef_ministry": "text", "da_content_sha": "text",
                     "da_content_at": "timestamptz"}
# Written on a schooling already held: its student, establishment and year stay (upsert_schooling's rule).
SCHOOLING_UPDATED = [c for c in SCHOOLING_COLUMNS if c not in ("schooling_id", "student_id", "uai", "school_year")]


class ConcurrentInsert(Exception):
    """A row absent when the batch read it was inserted by another transaction before the batch wrote it: the
    consumer then undoes the batch and applies it event by event, whose upserts take that row as it is."""


async def students_for_update(conn: Connection, student_ids: Sequence[UUID]) -> dict[UUID, Row]:
    return await _for_update(conn, "students", STUDENT_COLUMNS, student_ids)


async def schoolings_for_update(conn: Connection, schooling_ids: Sequence[UUID]) -> dict[UUID, Row]:
    return await _for_update(conn, "schoolings", SCHOOLING_COLUMNS, schooling_ids)


async def write_students(conn: Connection, rows: Sequence[Row], new: set[UUID]) -> None:
    await _write(conn, "students", STUDENT_COLUMNS, [c for c in STUDENT_COLUMNS if c != "student_id"], rows, new)


async def write_schoolings(conn: Connection, rows: Sequence[Row], new: set[UUID]) -> None:
    await _write(conn, "schoolings", SCHOOLING_COLUMNS, SCHOOLING_UPDATED, rows, new)


async def register_establishments(conn: Connection, newest: Mapping[str, tuple[EstablishmentFacts, datetime]]) -> None:
    """establishments_sql.register for many at once, each establishment's newest facts of the batch: the same
    rule (only over older ones), so no lock is needed (two lanes may register one establishment)."""
    facts = list(newest.values())
    if not facts:
        return
    await conn.execute(
        "INSERT INTO establishments (uai, name, ministry, academy_code, contract_type_code, as_of) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) "
        "ON CONFLICT (uai) DO UPDATE SET name = EXCLUDED.name, ministry = EXCLUDED.ministry, "
        "academy_code = EXCLUDED.academy_code, contract_type_code = EXCLUDED.contract_type_code, "
        "as_of = EXCLUDED.as_of WHERE establishments.as_of < EXCLUDED.as_of",
        [f.uai for f, _ in facts], [f.name for f, _ in facts], [f.ministry for f, _ in facts],
        [f.academy_code for f, _ in facts], [f.contract_type_code for f, _ in facts], [at for _, at in facts])


async def rib_versions_for_update(conn: Connection, pairs: Sequence[tuple[UUID, str]]) -> dict[tuple[UUID, str], int]:
    """The RIB status version held of each (student, establishment) pair, locked (record_rib_status's upsert
    locks it), in key order."""
    rows = await conn.fetch(
        "SELECT student_id, uai, version FROM rib_status_versions WHERE (student_id, uai) IN "
        "(SELECT * FROM unnest($1::uuid[], $2::text[])) ORDER BY student_id, uai FOR UPDATE",
        [s for s, _ in pairs], [u for _, u in pairs])
    return {(r["student_id"], r["uai"]): r["version"] for r in rows}


async def write_rib_statuses(conn: Connection, applied: Mapping[tuple[UUID, str], tuple[int, bool]],
                             new: set[tuple[UUID, str]]) -> None:
    """Per pair the last status applied (its version, whether a RIB is on file), in one statement: the version
    row updated or inserted, the pair added to or removed from ribs_on_file. ConcurrentInsert as `_write`."""
    if not applied:
        return
    pairs = list(applied)
    inserted = await conn.fetchval(
        "WITH r AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bool[], $5::bool[]) "
        "  AS r(student_id, uai, version, has_rib, new)), "
        "upd AS (UPDATE rib_status_versions t SET version = r.version FROM r "
        "  WHERE NOT r.new AND t.student_id = r.student_id AND t.uai = r.uai), "
        "ins AS (INSERT INTO rib_status_versions SELECT student_id, uai, version FROM r WHERE r.new "
        "  ON CONFLICT DO NOTHING RETURNING 1), "
        "added AS (INSERT INTO ribs_on_file SELECT student_id, uai FROM r WHERE r.has_rib ON CONFLICT DO NOTHING), "
        "removed AS (DELETE FROM ribs_on_file f USING r WHERE NOT r.has_rib AND f.student_id = r.student_id "
        "  AND f.uai = r.uai) "
        "SELECT count(*) FROM ins",
        [s for s, _ in pairs], [u for _, u in pairs], [applied[p][0] for p in pairs], [applied[p][1] for p in pairs],
        [p in new for p in pairs])
    if inserted != len(new):
        raise ConcurrentInsert("a rib_status_versions row was inserted by another transaction during the batch")


async def establishments_as_of(conn: Connection, uais: Sequence[str]) -> dict[str, datetime]:
    rows = await conn.fetch("SELECT uai, as_of FROM establishments WHERE uai = ANY($1::text[])", list(uais))
    return {r["uai"]: r["as_of"] for r in rows}


async def count_stale(conn: Connection, dropped: Mapping[str, int]) -> None:
    """The stale_events counters of a batch, in one statement (the per-event path adds them one by one)."""
    if dropped:
        await conn.execute(
            "INSERT INTO stale_events SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (event_type) "
            "DO UPDATE SET dropped = stale_events.dropped + EXCLUDED.dropped", list(dropped), list(dropped.values()))


async def _for_update(conn: Connection, table: str, columns: Mapping[str, str], ids: Sequence[UUID]) -> dict[UUID, Row]:
    key = next(iter(columns))
    # Locked as the per-event upserts lock them, in key order (two batches never wait on each other in a circle).
    # Names from the constants above, never input.
    rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ANY($1::uuid[]) "
                            f"ORDER BY {key} FOR UPDATE", list(ids))
    return {r[key]: dict(r) for r in rows}


async def _write(conn: Connection, table: str, columns: Mapping[str, str], updated: Sequence[str],
                 rows: Sequence[Row], new: set[UUID]) -> None:
    """The rows read are updated (`updated` columns), the others inserted; raises ConcurrentInsert if one of those
    was inserted meanwhile. One statement."""
    if not rows:
        return
    key = next(iter(columns))
    # A text[] cell cannot travel in unnest's arrays (PostgreSQL arrays are rectangular): as a JSON array.
    types = {c: "text" if t == "text[]" else t for c, t in columns.items()}

    def value(c: str) -> str:
        return f"ARRAY(SELECT jsonb_array_elements_text(r.{c}::jsonb))" if columns[c] == "text[]" else f"r.{c}"

    params = [[json.dumps(row[c]) if columns[c] == "text[]" else row[c] for row in rows] for c in columns]
    params.append([row[key] in new for row in rows])
    unnest = ", ".join(f"${i}::{types[c]}[]" for i, c in enumerate(columns, start=1))
    inserted = await conn.fetchval(
        f"WITH r AS (SELECT * FROM unnest({unnest}, ${len(columns) + 1}::bool[]) AS r({', '.join(columns)}, new)), "
        f"upd AS (UPDATE {table} t SET {', '.join(f'{c} = {value(c)}' for c in updated)} "
        f"  FROM r WHERE NOT r.new AND t.{key} = r.{key}), "
        f"ins AS (INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(value(c) for c in columns)} "
        f"  FROM r WHERE r.new ON CONFLICT ({key}) DO NOTHING RETURNING 1) "
        "SELECT count(*) FROM ins", *params)
    if inserted != sum(row[key] in new for row in rows):
        raise ConcurrentInsert(f"a {table} row was inserted by another transaction during the batch")
