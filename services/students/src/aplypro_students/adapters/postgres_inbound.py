"""SQL of the inbound schoolings: the reported establishment, open school years, last versions applied."""

from __future__ import annotations

from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_students.domain.inbound import Target


async def target(conn: Connection, uai: str) -> Target | None:
    row = await conn.fetchrow("SELECT ministry, students_provider, academy_code FROM establishments WHERE uai = $1",
                              uai)
    return None if row is None else Target(row["ministry"], row["students_provider"], row["academy_code"])


async def year_is_open(conn: Connection, school_year: int) -> bool:
    """A school year is open once its MEF list is loaded (the import filter of §5.1)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM mefs WHERE school_year = $1)", school_year))


async def last_version(conn: Connection, producer: str, source_record_id: str) -> int | None:
    """The last version applied of a producer's record, locked until the transaction ends."""
    value: int | None = await conn.fetchval(
        "SELECT source_version FROM inbound_records WHERE producer = $1 AND source_record_id = $2 FOR UPDATE",
        producer, source_record_id)
    return value


async def record_version(conn: Connection, producer: str, source_record_id: str, version: int,
                         event_id: UUID) -> None:
    await conn.execute(
        "INSERT INTO inbound_records (producer, source_record_id, source_version, event_id) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (producer, source_record_id) DO UPDATE SET "
        "source_version = EXCLUDED.source_version, event_id = EXCLUDED.event_id, applied_at = now()",
        producer, source_record_id, version, event_id)
