"""SQL of merging two students (imports.md §5.8); callers hold the transaction and the reconciliation lock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
from aplypro_servicekit.db import Connection

from aplypro_students.adapters.postgres import identity_of, schooling_from_row
from aplypro_students.domain.model import Identity


async def lock_students(conn: Connection, ids: Sequence[UUID]) -> dict[UUID, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM students WHERE student_id = ANY($1::uuid[]) ORDER BY student_id "
                            "FOR UPDATE", list(ids))
    return {r["student_id"]: r for r in rows}


async def same_person(conn: Connection, a: UUID, b: UUID) -> bool:
    """Same normalised last and first name (`students_identity_key`, the import's key), birth date and city."""
    return bool(await conn.fetchval(
        "SELECT x.identity_key = y.identity_key AND x.birth_date = y.birth_date "
        "AND x.birth_city_insee IS NOT DISTINCT FROM y.birth_city_insee "
        "FROM students x, students y WHERE x.student_id = $1 AND y.student_id = $2", a, b))


async def schoolings_of(conn: Connection, student_id: UUID) -> list[Any]:
    rows = await conn.fetch(
        "SELECT s.*, c.school_year FROM schoolings s JOIN classes c USING (class_id) "
        "WHERE s.student_id = $1 AND s.folded_into IS NULL ORDER BY s.start_date, s.schooling_id FOR UPDATE OF s",
        student_id)
    return [schooling_from_row(r) for r in rows]


async def swap_ines(conn: Connection, survivor: UUID, merged: UUID) -> str:
    """The survivor takes the merged student's INE, the tombstone keeps the placeholder (INEs are unique: through
    a temporary value, which has no INE's shape). Each keeps its INE status. Returns the survivor's new INE."""
    row = await conn.fetchrow("SELECT s.ine AS s_ine, m.ine AS m_ine FROM students s, students m "
                              "WHERE s.student_id = $1 AND m.student_id = $2", survivor, merged)
    assert row is not None  # both are locked by the caller
    await conn.execute("UPDATE students SET ine = 'merging:' || student_id WHERE student_id = $1", merged)
    await conn.execute("UPDATE students SET ine = $2 WHERE student_id = $1", survivor, row["m_ine"])
    await conn.execute("UPDATE students SET ine = $2 WHERE student_id = $1", merged, row["s_ine"])
    return str(row["m_ine"])


async def identities_of(conn: Connection, ids: Sequence[UUID]) -> dict[UUID, Identity]:
    rows = await conn.fetch("SELECT * FROM students WHERE student_id = ANY($1::uuid[])", list(ids))
    return {r["student_id"]: identity_of(r) for r in rows}


async def move_schoolings(conn: Connection, survivor: UUID, moved: Sequence[UUID],
                          folded: Sequence[tuple[UUID, UUID]], by: str) -> None:
    """Moved ones take the survivor and their next version; folded ones too, and are hidden (their hidden
    version + 1) unless they already were."""
    await conn.execute("UPDATE schoolings SET student_id = $1, version = version + 1 WHERE schooling_id = ANY($2)",
                       survivor, list(moved))
    await conn.execute(
        "UPDATE schoolings s SET student_id = $1, version = s.version + 1, folded_into = f.target, "
        "hidden_at = coalesce(s.hidden_at, now()), hidden_by = CASE WHEN s.hidden_at IS NULL THEN $4 ELSE s.hidden_by END, "
        "hidden_version = s.hidden_version + (s.hidden_at IS NULL)::int "
        "FROM unnest($2::uuid[], $3::uuid[]) AS f(id, target) WHERE s.schooling_id = f.id",
        survivor, [f for f, _ in folded], [i for _, i in folded], by)


async def hidden_versions(conn: Connection, ids: Sequence[UUID]) -> dict[UUID, int]:
    rows = await conn.fetch("SELECT schooling_id, hidden_version FROM schoolings WHERE schooling_id = ANY($1)",
                            list(ids))
    return {r["schooling_id"]: int(r["hidden_version"]) for r in rows}


async def ribs_of(conn: Connection, student_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM ribs WHERE student_id = ANY($1::uuid[]) ORDER BY uai, version "
                            "FOR UPDATE", list(student_ids))


async def move_ribs(conn: Connection, survivor: UUID, moves: Sequence[tuple[UUID, int, bool]]) -> None:
    """(rib, its version among the survivor's RIBs at its establishment, archive it)."""
    await conn.executemany(
        "UPDATE ribs SET student_id = $2, version = $3, archived_at = CASE WHEN $4 THEN coalesce(archived_at, now()) "
        "ELSE archived_at END WHERE rib_id = $1", [(rib, survivor, version, archive) for rib, version, archive in moves])


async def make_tombstone(conn: Connection, survivor: UUID, merged: UUID) -> int:
    """The merged student points to the survivor; returns the survivor's next merge version."""
    await conn.execute("UPDATE students SET merged_into = $1, merged_at = now() WHERE student_id = $2",
                       survivor, merged)
    version = await conn.fetchval("UPDATE students SET merge_version = merge_version + 1 WHERE student_id = $1 "
                                  "RETURNING merge_version", survivor)
    return int(version)


async def resolve_review_items(conn: Connection, a: UUID, b: UUID) -> int:
    """The pair's open `possible_duplicate` items are resolved by the merge."""
    return len(await conn.fetch(
        "UPDATE review_items SET resolved_at = now(), resolution = 'merged' WHERE resolved_at IS NULL "
        "AND ((student_id = $1 AND other_student_id = $2) OR (student_id = $2 AND other_student_id = $1)) "
        "RETURNING item_id", a, b))


async def record_merge(conn: Connection, merge_id: UUID, survivor: UUID, merged: UUID, by: str, ine_taken: bool,
                       moved: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO student_merges (merge_id, survivor_id, merged_id, merged_by, ine_taken, moved) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb)", merge_id, survivor, merged, by, ine_taken, json.dumps(moved))


async def open_review_items(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT item_id, kind, student_id, other_student_id, import_id, created_at FROM review_items "
        "WHERE resolved_at IS NULL ORDER BY created_at, item_id")
    return [dict(r) for r in rows]
