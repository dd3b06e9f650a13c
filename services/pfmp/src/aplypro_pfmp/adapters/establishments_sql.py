"""SQL of pfmp's establishments directory (migration 0017): what statistics group by and show of an
establishment. Written from EstablishmentRegistered and from SchoolingOpened's establishment copy; the newest
event wins."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from aplypro_servicekit.db import Connection


class EstablishmentFacts(NamedTuple):
    uai: str
    name: str
    ministry: str
    academy_code: str | None
    contract_type_code: str


async def register(conn: Connection, facts: EstablishmentFacts, as_of: datetime) -> bool:
    """Store the facts unless newer ones are held; False when they are stale (a replay, or out of order)."""
    applied = await conn.fetchval(
        "INSERT INTO establishments (uai, name, ministry, academy_code, contract_type_code, as_of) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (uai) DO UPDATE SET name = EXCLUDED.name, "
        "ministry = EXCLUDED.ministry, academy_code = EXCLUDED.academy_code, "
        "contract_type_code = EXCLUDED.contract_type_code, as_of = EXCLUDED.as_of "
        "WHERE establishments.as_of < EXCLUDED.as_of RETURNING true", *facts, as_of)
    return applied is not None


async def of(conn: Connection, uais: list[str]) -> dict[str, EstablishmentFacts]:
    rows = await conn.fetch("SELECT uai, name, ministry, academy_code, contract_type_code FROM establishments "
                            "WHERE uai = ANY($1::text[])", uais)
    return {r["uai"]: EstablishmentFacts(*r.values()) for r in rows}
