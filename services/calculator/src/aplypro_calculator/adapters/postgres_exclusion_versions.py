"""SQL of the exclusion rows' newest applied versions (migration 0012)."""

from __future__ import annotations

from aplypro_servicekit.db import Connection

from aplypro_calculator.domain.exclusions import ExclusionRow


async def advance(conn: Connection, row: ExclusionRow, version: int) -> bool:
    """Record `version` as the row's newest; False (nothing written) when it is not newer than the stored one."""
    return bool(await conn.fetchval(
        "INSERT INTO exclusion_versions (uai, mef_key, year_key, version) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (uai, mef_key, year_key) DO UPDATE SET version = EXCLUDED.version "
        "WHERE exclusion_versions.version < EXCLUDED.version RETURNING true",
        row.uai, row.mef or "", row.school_year or 0, version))
