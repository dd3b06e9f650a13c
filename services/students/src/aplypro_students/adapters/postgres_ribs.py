"""SQL of bank details: at most one active RIB per student and establishment (a partial unique index)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg
from aplypro_servicekit.db import Connection

from aplypro_students.domain.rib import BankDetails


async def student_ids(conn: Connection, ines: Sequence[str]) -> dict[str, UUID]:
    rows = await conn.fetch("SELECT ine, student_id FROM students WHERE ine = ANY($1::text[])", list(ines))
    return {r["ine"]: r["student_id"] for r in rows}


async def enrolments(conn: Connection, student_ids: Sequence[UUID]) -> set[tuple[UUID, str]]:
    """(student, establishment) pairs with a schooling: a school enters RIBs of its own students only."""
    rows = await conn.fetch(
        "SELECT DISTINCT s.student_id, c.uai FROM schoolings s JOIN classes c USING (class_id) "
        "WHERE s.student_id = ANY($1::uuid[])", list(student_ids),
    )
    return {(r["student_id"], r["uai"]) for r in rows}


async def active_rib(conn: Connection, student_id: UUID, uai: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM ribs WHERE student_id = $1 AND uai = $2 AND archived_at IS NULL FOR UPDATE",
        student_id, uai,
    )


async def archive_rib(conn: Connection, rib_id: UUID) -> None:
    # TODO(payments): refuse (`unarchivable_rib`) while this RIB is tied to a payment in progress.
    await conn.execute("UPDATE ribs SET archived_at = now() WHERE rib_id = $1", rib_id)


async def insert_rib(conn: Connection, rib_id: UUID, student_id: UUID, uai: str, details: BankDetails, *,
                     recorded_by: str | None = None) -> int:
    """Store a new RIB of the student at this establishment; returns its version (the previous one + 1)."""
    version = await conn.fetchval(
        "INSERT INTO ribs (rib_id, student_id, uai, owner_type, holder_name, iban, bic, version, recorded_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "  (SELECT coalesce(max(version), 0) + 1 FROM ribs WHERE student_id = $2 AND uai = $3), $8) "
        "RETURNING version",
        rib_id, student_id, uai, details.owner_type.value, details.holder_name, details.iban, details.bic,
        recorded_by,
    )
    return int(version)
