"""SQL of the inbound schoolings: the reported establishment, open school years, the producers' records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_students.domain.inbound import Target


@dataclass(frozen=True)
class InboundRecord:
    """What we applied of one producer record: its last version, its schooling, whether it was retracted."""

    source_version: int
    schooling_id: UUID | None  # None: applied before migration 0006 recorded it
    retracted_at: datetime | None


async def target(conn: Connection, uai: str) -> Target | None:
    row = await conn.fetchrow("SELECT ministry, students_provider, academy_code FROM establishments WHERE uai = $1",
                              uai)
    return None if row is None else Target(row["ministry"], row["students_provider"], row["academy_code"])


async def year_is_open(conn: Connection, school_year: int) -> bool:
    """A school year is open once its MEF list is loaded (the import filter of §5.1)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM mefs WHERE school_year = $1)", school_year))


async def record(conn: Connection, producer: str, source_record_id: str) -> InboundRecord | None:
    """A producer's record as last applied, locked until the transaction ends."""
    row = await conn.fetchrow(
        "SELECT source_version, schooling_id, retracted_at FROM inbound_records "
        "WHERE producer = $1 AND source_record_id = $2 FOR UPDATE", producer, source_record_id)
    return None if row is None else InboundRecord(int(row["source_version"]), row["schooling_id"],
                                                  row["retracted_at"])


async def record_version(conn: Connection, producer: str, source_record_id: str, version: int,
                         event_id: UUID, *, schooling_id: UUID | None = None, retracted: bool = False) -> None:
    """`schooling_id` None keeps the one recorded; `retracted` marks the record retracted (never unmarked)."""
    await conn.execute(
        "INSERT INTO inbound_records (producer, source_record_id, source_version, event_id, schooling_id, "
        "retracted_at) VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END) "
        "ON CONFLICT (producer, source_record_id) DO UPDATE SET source_version = EXCLUDED.source_version, "
        "event_id = EXCLUDED.event_id, applied_at = now(), "
        "schooling_id = coalesce(EXCLUDED.schooling_id, inbound_records.schooling_id), "
        "retracted_at = coalesce(inbound_records.retracted_at, EXCLUDED.retracted_at)",
        producer, source_record_id, version, event_id, schooling_id, retracted)


async def reported_schooling(conn: Connection, ine: str, uai: str, school_year: int, class_label: str,
                             mef_code: str) -> UUID | None:
    """The schooling a reported record was reconciled into: its student (by INE) in its class."""
    value: UUID | None = await conn.fetchval(
        "SELECT s.schooling_id FROM schoolings s JOIN students st USING (student_id) JOIN classes c USING (class_id) "
        "WHERE st.ine = $1 AND c.uai = $2 AND c.school_year = $3 AND c.label = $4 AND c.mef_code = $5",
        ine, uai, school_year, class_label, mef_code)
    return value


async def schooling_uai(conn: Connection, schooling_id: UUID) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT c.uai FROM schoolings s JOIN classes c USING (class_id) WHERE s.schooling_id = $1", schooling_id)
    return value


async def mark_retracted(conn: Connection, schooling_id: UUID) -> None:
    await conn.execute("UPDATE schoolings SET retracted_at = now() WHERE schooling_id = $1", schooling_id)
