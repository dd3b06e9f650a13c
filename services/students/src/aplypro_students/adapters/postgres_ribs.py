"""SQL of bank details: at most one active RIB per student and establishment (a partial unique index)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from aplypro_servicekit.db import Connection

from aplypro_students.domain.rib import BankDetails


async def student_ids(conn: Connection, ines: Sequence[str]) -> dict[str, UUID]:
    """A merged student's INE gives its survivor (imports.md §5.8)."""
    rows = await conn.fetch("SELECT ine, coalesce(merged_into, student_id) AS student_id FROM students "
                            "WHERE ine = ANY($1::text[])", list(ines))
    return {r["ine"]: r["student_id"] for r in rows}


async def enrolments(conn: Connection, student_ids: Sequence[UUID]) -> set[tuple[UUID, str]]:
    """(student, establishment) pairs with a schooling: a school enters RIBs of its own students only."""
    rows = await conn.fetch(
        "SELECT DISTINCT s.student_id, c.uai FROM schoolings s JOIN classes c USING (class_id) "
        "WHERE s.student_id = ANY($1::uuid[])", list(student_ids),
    )
    return {(r["student_id"], r["uai"]) for r in rows}


async def active_ribs(conn: Connection, student_ids: Sequence[UUID]) -> dict[tuple[UUID, str], asyncpg.Record]:
    """The active RIB of each (student, establishment), locked until the transaction ends."""
    rows = await conn.fetch(
        "SELECT * FROM ribs WHERE student_id = ANY($1::uuid[]) AND archived_at IS NULL FOR UPDATE",
        list(student_ids),
    )
    return {(r["student_id"], r["uai"]): r for r in rows}


async def last_versions(conn: Connection, student_ids: Sequence[UUID]) -> dict[tuple[UUID, str], int]:
    """The highest RIB version of each (student, establishment), archived RIBs included."""
    rows = await conn.fetch(
        "SELECT student_id, uai, max(version) AS version FROM ribs WHERE student_id = ANY($1::uuid[]) "
        "GROUP BY student_id, uai", list(student_ids),
    )
    return {(r["student_id"], r["uai"]): int(r["version"]) for r in rows}


async def archive_ribs(conn: Connection, rib_ids: Sequence[UUID]) -> None:
    # The caller refused first any RIB frozen on a payment in progress (record_ribs, `unarchivable_rib`).
    await conn.execute("UPDATE ribs SET archived_at = now() WHERE rib_id = ANY($1::uuid[])", list(rib_ids))


@dataclass(frozen=True)
class NewRib:
    rib_id: UUID
    student_id: UUID
    uai: str
    details: BankDetails
    version: int
    superseded: bool  # a later row of the same batch replaces it: stored archived


async def insert_ribs(conn: Connection, ribs: Sequence[NewRib], *, recorded_by: str | None = None) -> None:
    """Store the batch in one statement (one round trip whatever its size: imports run under load)."""
    await conn.execute(
        "INSERT INTO ribs (rib_id, student_id, uai, owner_type, holder_name, iban, bic, version, recorded_by, "
        "                  archived_at) "
        "SELECT r.rib_id, r.student_id, r.uai, r.owner_type, r.holder_name, r.iban, r.bic, r.version, $9, "
        "       CASE WHEN r.superseded THEN now() END "
        "FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], "
        "            $10::bool[]) "
        "  AS r(rib_id, student_id, uai, owner_type, holder_name, iban, bic, version, superseded)",
        [r.rib_id for r in ribs], [r.student_id for r in ribs], [r.uai for r in ribs],
        [r.details.owner_type.value for r in ribs], [r.details.holder_name for r in ribs],
        [r.details.iban for r in ribs], [r.details.bic for r in ribs], [r.version for r in ribs], recorded_by,
        [r.superseded for r in ribs],
    )
