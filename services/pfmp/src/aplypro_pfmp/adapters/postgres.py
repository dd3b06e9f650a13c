"""SQL of the pfmp service: the students/schoolings projection and the PFMP table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_pfmp.domain.pfmp import Pfmp, Status

# A fingerprint and the time it last changed (migration 0018): an unchanged one keeps its time, so a replay or
# an event that changes nothing a DA prints never marks a DA stale.
_FINGERPRINT = ("{column}_sha = coalesce(EXCLUDED.{column}_sha, {table}.{column}_sha), "
                "{column}_at = CASE WHEN EXCLUDED.{column}_sha IS NOT NULL "
                "AND EXCLUDED.{column}_sha IS DISTINCT FROM {table}.{column}_sha "
                "THEN EXCLUDED.{column}_at ELSE {table}.{column}_at END")


async def upsert_student(conn: Connection, student_id: UUID, ine: str, last_name: str,
                         first_names: list[str], asp_data_ready: bool, da_identity_sha: str | None = None,
                         at: datetime | None = None, version: int = 0) -> bool:
    """`asp_data_ready`: domain.student_data's yes/no for the indicators (migration 0016); `da_identity_sha`:
    domain.decision_content's fingerprint, whose `at` (the event's time) moves only when it changes (0018);
    `version`: the identity's (0020). Returns False, changing nothing, and counts it, when the identity is not
    newer than the one held (version 0 follows 0: unversioned identities, the last one read wins)."""
    applied = await conn.fetchval(
        "INSERT INTO students (student_id, ine, last_name, first_names, asp_data_ready, da_identity_sha, "
        "da_identity_at, identity_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (student_id) DO UPDATE SET ine = EXCLUDED.ine, last_name = EXCLUDED.last_name, "
        "first_names = EXCLUDED.first_names, asp_data_ready = EXCLUDED.asp_data_ready, "
        "identity_version = EXCLUDED.identity_version, "
        f"{_FINGERPRINT.format(table='students', column='da_identity')} "
        "WHERE students.identity_version < EXCLUDED.identity_version "
        "OR EXCLUDED.identity_version = 0 AND students.identity_version = 0 RETURNING true",
        student_id, ine, last_name, first_names, asp_data_ready, da_identity_sha, at, version,
    )
    if applied is None:
        await conn.execute(
            "INSERT INTO stale_events VALUES ('StudentRegistered', 1) "
            "ON CONFLICT (event_type) DO UPDATE SET dropped = stale_events.dropped + 1")
    return applied is not None


async def upsert_schooling(conn: Connection, row: dict[str, Any]) -> bool:
    """Store the schooling if it is newer than the one held (version 0, unversioned, follows 0), or fill what a
    replay of the version held brings that was not projected yet; returns False, and counts it, when stale."""
    applied = await conn.fetchval(
        "INSERT INTO schoolings (schooling_id, student_id, uai, school_year, status, start_date, end_date, version, "
        "class_label, academy_code, mef_ministry, da_content_sha, da_content_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "$8, $9, $10, $11, $12, $13) ON CONFLICT (schooling_id) "
        "DO UPDATE SET status = EXCLUDED.status, start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, "
        "version = EXCLUDED.version, class_label = EXCLUDED.class_label, academy_code = EXCLUDED.academy_code, "
        "mef_ministry = coalesce(EXCLUDED.mef_ministry, schoolings.mef_ministry), "
        f"{_FINGERPRINT.format(table='schoolings', column='da_content')} "
        "WHERE schoolings.version < EXCLUDED.version OR EXCLUDED.version = 0 AND schoolings.version = 0 "
        "RETURNING true",
        row["schooling_id"], row["student_id"], row["uai"], row["school_year"], row["status"],
        row["start_date"], row["end_date"], row["version"], row.get("class_label"), row.get("academy_code"),
        row.get("mef_ministry"), row.get("da_content_sha"), row.get("occurred_at"),
    )
    if applied is None and (row.get("da_content_sha") or row.get("mef_ministry")) is not None:
        # A replay of the version held, projected before migrations 0017/0018: the MEF's ministry and the
        # fingerprint are filled, the latter dated -infinity (when the content last changed is unknown: it
        # never marks a DA stale by itself).
        applied = await conn.fetchval(
            "UPDATE schoolings SET mef_ministry = coalesce(mef_ministry, $4), "
            "da_content_at = CASE WHEN da_content_sha IS NULL AND $3::text IS NOT NULL THEN '-infinity' "
            "ELSE da_content_at END, da_content_sha = coalesce(da_content_sha, $3) WHERE schooling_id = $1 "
            "AND version = $2 AND (da_content_sha IS NULL AND $3::text IS NOT NULL "
            "OR mef_ministry IS NULL AND $4::text IS NOT NULL) RETURNING true",
            row["schooling_id"], row["version"], row.get("da_content_sha"), row.get("mef_ministry"))
    if applied is None:
        await conn.execute(
            "INSERT INTO stale_events VALUES ('SchoolingOpened', 1) "
            "ON CONFLICT (event_type) DO UPDATE SET dropped = stale_events.dropped + 1")
    return applied is not None


async def find_schooling(conn: Connection, ine: str, uai: str, school_year: int) -> dict[str, Any] | None:
    """The student's schooling in that establishment and year (the latest if several)."""
    row = await conn.fetchrow(
        "SELECT sc.* FROM schoolings sc JOIN students st ON coalesce(st.merged_into, st.student_id) = sc.student_id "
        "WHERE st.ine = $1 AND sc.uai = $2 AND sc.school_year = $3 ORDER BY sc.start_date DESC LIMIT 1",
        ine, uai, school_year,
    )
    return dict(row) if row else None


async def schooling_by_id(conn: Connection, schooling_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM schoolings WHERE schooling_id = $1", schooling_id)
    return dict(row) if row else None


async def lock_student(conn: Connection, student_id: UUID) -> None:
    """Serialize the writers of one student's PFMPs until the transaction ends (ranks, identity, overlaps).

    The student's slot lock, the one the pfmps_one_period trigger takes (migration 0004): two students
    sharing one of the 1,024 slots only wait for each other.
    """
    await lock_students(conn, [student_id])


async def lock_students(conn: Connection, student_ids: Iterable[UUID]) -> None:
    """The slot locks of these students, in ascending slot order: two writers sharing students (or only
    slots) wait for each other instead of deadlocking, and a whole file holds at most 1,024 locks."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('pfmp-student-slot'), slot) FROM "
        "(SELECT DISTINCT pfmp_student_slot(s) AS slot FROM unnest($1::uuid[]) AS s ORDER BY slot) AS slots",
        list(student_ids))


async def same_period(conn: Connection, schooling_id: UUID, start: date, end: date) -> Pfmp | None:
    """The live PFMP with this identity (student and schooling, start, end), locked for an edit."""
    row = await conn.fetchrow(
        "SELECT * FROM pfmps WHERE schooling_id = $1 AND start_date = $2 AND end_date = $3 AND NOT deleted "
        "FOR UPDATE", schooling_id, start, end)
    return _to_pfmp(row) if row else None


async def overlapping(conn: Connection, student_id: UUID, start: date, end: date) -> UUID | None:
    """A live PFMP of the student (any schooling, any year) sharing a day with [start, end]."""
    found: UUID | None = await conn.fetchval(
        "SELECT pfmp_id FROM pfmps WHERE student_id = $1 AND NOT deleted AND start_date <= $3 AND end_date >= $2 "
        "LIMIT 1", student_id, start, end)
    return found


async def update_day_count(conn: Connection, pfmp: Pfmp) -> None:
    await conn.execute("UPDATE pfmps SET day_count = $2, status = $3, version = $4 WHERE pfmp_id = $1",
                       pfmp.pfmp_id, pfmp.day_count, pfmp.status.value, pfmp.version)


async def next_rank(conn: Connection, schooling_id: UUID) -> int:
    value = await conn.fetchval("SELECT coalesce(max(rank), 0) + 1 FROM pfmps WHERE schooling_id = $1",
                                schooling_id)
    return int(value)


async def insert_pfmp(conn: Connection, pfmp: Pfmp) -> Pfmp:
    seq = await conn.fetchval(
        "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, rank) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_seq",
        pfmp.pfmp_id, pfmp.schooling_id, pfmp.student_id, pfmp.start_date, pfmp.end_date, pfmp.day_count,
        pfmp.status.value, pfmp.rank,
    )
    return Pfmp(**{**pfmp.__dict__, "created_seq": int(seq)})


def _to_pfmp(row: Any) -> Pfmp:
    return Pfmp(row["pfmp_id"], row["schooling_id"], row["student_id"], row["start_date"], row["end_date"],
                row["day_count"], Status(row["status"]), row["rank"], row["created_seq"], row["version"],
                row["deleted"])


async def mark_validated(conn: Connection, pfmp_ids: list[UUID]) -> None:
    await conn.execute(
        # +1 in the same transaction as its PfmpValidated (Pfmp.validate gives the event the same number)
        "UPDATE pfmps SET status = 'validated', validated_at = now(), version = version + 1 WHERE pfmp_id = ANY($1)",
        pfmp_ids
    )


async def counts(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM pfmps WHERE NOT deleted GROUP BY status")
    result = {r["status"]: int(r["n"]) for r in rows}
    result["schoolings"] = int(await conn.fetchval("SELECT count(*) FROM schoolings"))
    return result
