"""SQL of the exclusions (migration 0007)."""

from __future__ import annotations

from aplypro_servicekit.db import Connection

from aplypro_students.domain.exclusions import Exclusion


async def exclusions_of(conn: Connection, uai: str | None = None) -> list[Exclusion]:
    """The rows of one establishment, or all of them."""
    rows = await conn.fetch("SELECT uai, mef_code, school_year FROM exclusions WHERE $1::text IS NULL OR uai = $1 "
                            "ORDER BY uai, mef_code NULLS FIRST, school_year NULLS FIRST", uai)
    return [Exclusion(r["uai"], r["mef_code"], r["school_year"]) for r in rows]


async def add_exclusion(conn: Connection, row: Exclusion, *, by: str) -> bool:
    """False when the row exists already (adding it twice changes nothing)."""
    return bool(await conn.fetchval(
        "INSERT INTO exclusions (uai, mef_code, school_year, added_by) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING true", row.uai, row.mef_code, row.school_year, by))


async def remove_exclusion(conn: Connection, row: Exclusion) -> bool:
    return bool(await conn.fetchval(
        "DELETE FROM exclusions WHERE uai = $1 AND mef_code IS NOT DISTINCT FROM $2 "
        "AND school_year IS NOT DISTINCT FROM $3 RETURNING true", row.uai, row.mef_code, row.school_year))
