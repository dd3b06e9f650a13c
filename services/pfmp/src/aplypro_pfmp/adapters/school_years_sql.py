"""SQL of school years: the academic calendar (reference data) and the reports on schoolings."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_pfmp.domain.school_years import CalendarEntry, YearRange, school_year_range


async def upsert_calendar(conn: Connection, entries: list[CalendarEntry]) -> None:
    await conn.executemany(
        "INSERT INTO school_years VALUES ($1, $2, $3, $4) ON CONFLICT (academy_code, school_year) DO UPDATE "
        "SET first_day = EXCLUDED.first_day, last_day = EXCLUDED.last_day",
        [(e.academy_code, e.school_year, e.first_day, e.last_day) for e in entries])


async def report_of(conn: Connection, schooling_id: Any) -> tuple[date | None, int]:
    """(the schooling's report date or None, its report version; 0: never set)."""
    row = await conn.fetchrow("SELECT extended_end_date, version FROM schooling_reports WHERE schooling_id = $1",
                              schooling_id)
    return (None, 0) if row is None else (row["extended_end_date"], int(row["version"]))


async def year_range(conn: Connection, schooling: dict[str, Any]) -> YearRange:
    """The range a PFMP of this schooling must lie in: the academy's school year (calendar or fallback),
    its end replaced by the schooling's report when that is later."""
    academy = schooling.get("academy_code")
    row = await conn.fetchrow(  # one round trip: an import asks this for every row
        "SELECT y.first_day, y.last_day, r.extended_end_date FROM (SELECT 1) AS one "
        "LEFT JOIN school_years y ON y.academy_code = $1 AND y.school_year = $2 "
        "LEFT JOIN schooling_reports r ON r.schooling_id = $3", academy, schooling["school_year"],
        schooling["schooling_id"])
    return _range_of(schooling, row)


async def year_ranges(conn: Connection, schoolings: list[dict[str, Any]]) -> dict[UUID, YearRange]:
    """`year_range` of many schoolings in one statement (a whole import file), by schooling id."""
    rows = await conn.fetch(
        "SELECT u.schooling_id, y.first_day, y.last_day, r.extended_end_date "
        "FROM unnest($1::uuid[], $2::text[], $3::int[]) AS u(schooling_id, academy, school_year) "
        "LEFT JOIN school_years y ON y.academy_code = u.academy AND y.school_year = u.school_year "
        "LEFT JOIN schooling_reports r ON r.schooling_id = u.schooling_id",
        [s["schooling_id"] for s in schoolings], [s.get("academy_code") for s in schoolings],
        [s["school_year"] for s in schoolings])
    by_id = {r["schooling_id"]: r for r in rows}
    return {s["schooling_id"]: _range_of(s, by_id.get(s["schooling_id"])) for s in schoolings}


def _range_of(schooling: dict[str, Any], row: Any) -> YearRange:
    """The range from the calendar entry and report found for the schooling (`row`: first_day, last_day,
    extended_end_date, each possibly NULL)."""
    academy = schooling.get("academy_code")
    calendar = {} if row is None or row["first_day"] is None or not academy else {
        (academy, schooling["school_year"]): YearRange(row["first_day"], row["last_day"])}
    base = school_year_range(int(schooling["school_year"]), academy, calendar)
    report = None if row is None else row["extended_end_date"]
    # A report extends: it never narrows the year (a PFMP before it is bounded at payment by the schooling).
    return base.with_end(report) if report is not None and report > base.last else base


async def academy_range(conn: Connection, academy: str | None, school_year: int) -> YearRange:
    """One school year of one academy: the calendar's entry, else the fallback."""
    row = None if not academy else await conn.fetchrow(
        "SELECT first_day, last_day FROM school_years WHERE academy_code = $1 AND school_year = $2", academy,
        school_year)
    calendar = {} if row is None or not academy else {(academy, school_year): YearRange(row[0], row[1])}
    return school_year_range(school_year, academy, calendar)


async def current_year(conn: Connection, academy: str | None, today: date) -> YearRange:
    """The school year of the academy that contains today (the fallback's when the calendar leaves a gap)."""
    for year in (today.year, today.year - 1):
        found = await academy_range(conn, academy, year)
        if found.first <= today <= found.last:
            return found
    return school_year_range(today.year if today.month >= 9 else today.year - 1, academy)


async def is_abrogated(conn: Connection, schooling_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT true FROM decisions WHERE schooling_id = $1 AND kind = 'abrogation'", schooling_id))


async def save_report(conn: Connection, schooling_id: UUID, student_id: UUID, extended_end_date: date | None,
                      version: int) -> None:
    await conn.execute(
        "INSERT INTO schooling_reports VALUES ($1, $2, $3, $4) ON CONFLICT (schooling_id) DO UPDATE "
        "SET extended_end_date = EXCLUDED.extended_end_date, version = EXCLUDED.version",
        schooling_id, student_id, extended_end_date, version)


async def latest_pfmp_end(conn: Connection, schooling_id: UUID) -> date | None:
    value: date | None = await conn.fetchval(
        "SELECT max(end_date) FROM pfmps WHERE schooling_id = $1 AND NOT deleted", schooling_id)
    return value


async def audit_report(conn: Connection, user_id: str, action: str, schooling_id: UUID,
                       report: date | None) -> None:
    await conn.execute("INSERT INTO pfmp_actions (user_id, action, schooling_id, report_date) VALUES ($1, $2, $3, $4)",
                       user_id, action, schooling_id, report)
