"""SQL of the reference tables: establishments and the MEF list of each school year."""

from __future__ import annotations

from collections.abc import Sequence

from aplypro_servicekit.db import Connection

from aplypro_students.domain.reference import Establishment, Mef


async def upsert_establishments(conn: Connection, establishments: Sequence[Establishment]) -> None:
    await conn.executemany(
        "INSERT INTO establishments (uai, name, ministry, academy_code, contract_type_code, address_lines, "
        "postal_code, city, email, phone, head_name, city_insee) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "ON CONFLICT (uai) DO UPDATE SET name = EXCLUDED.name, ministry = EXCLUDED.ministry, "
        "academy_code = EXCLUDED.academy_code, contract_type_code = EXCLUDED.contract_type_code, "
        "address_lines = EXCLUDED.address_lines, postal_code = EXCLUDED.postal_code, city = EXCLUDED.city, "
        "email = EXCLUDED.email, phone = EXCLUDED.phone, head_name = EXCLUDED.head_name, "
        # a file without the column (older exports, the shipped samples) keeps the code a fuller one gave
        "city_insee = COALESCE(EXCLUDED.city_insee, establishments.city_insee), updated_at = now()",
        [(e.uai, e.name, e.ministry, e.academy_code, e.contract_type_code, list(e.address_lines), e.postal_code,
          e.city, e.email, e.phone, e.head_name, e.city_insee) for e in establishments],
    )


async def establishments_of(conn: Connection, uais: Sequence[str]) -> dict[str, Establishment]:
    """The stored directory rows of these UAIs, as a load compares them with its file."""
    rows = await conn.fetch(
        "SELECT uai, name, ministry, academy_code, contract_type_code, address_lines, postal_code, city, email, "
        "phone, head_name, city_insee FROM establishments WHERE uai = ANY($1::text[])", list(uais))
    return {r["uai"]: Establishment(**{**dict(r), "address_lines": tuple(r["address_lines"])}) for r in rows}


async def upsert_mefs(conn: Connection, school_year: int, mefs: Sequence[Mef]) -> None:
    """Upsert only: a MEF that left the list stays, since existing classes still point at it."""
    await conn.executemany(
        "INSERT INTO mefs (school_year, code, dispositif, diploma, duration, year, label, ministry) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (school_year, code) DO UPDATE SET "
        "dispositif = EXCLUDED.dispositif, diploma = EXCLUDED.diploma, duration = EXCLUDED.duration, "
        "year = EXCLUDED.year, label = EXCLUDED.label, ministry = EXCLUDED.ministry",
        [(school_year, m.code, m.dispositif, m.diploma, m.duration, m.year, m.label, m.ministry) for m in mefs],
    )


async def known_establishments(conn: Connection, uais: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT uai FROM establishments WHERE uai = ANY($1::text[])", list(uais))
    return {r["uai"] for r in rows}


async def academy_of(conn: Connection, uai: str) -> str | None:
    value: str | None = await conn.fetchval("SELECT academy_code FROM establishments WHERE uai = $1", uai)
    return value


async def eligible_mefs(conn: Connection, school_year: int, codes: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT code FROM mefs WHERE school_year = $1 AND code = ANY($2::text[])",
                            school_year, list(codes))
    return {r["code"] for r in rows}


async def reference_counts(conn: Connection) -> dict[str, int]:
    row = await conn.fetchrow("SELECT (SELECT count(*) FROM establishments) AS establishments, "
                              "(SELECT count(*) FROM mefs) AS mefs")
    assert row is not None
    return {key: int(value) for key, value in row.items()}
