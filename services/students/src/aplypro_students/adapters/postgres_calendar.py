"""SQL of the academic calendar: each academy's summers (imports.md §6.3), read per academy."""

from __future__ import annotations

from collections.abc import Mapping

from aplypro_servicekit.db import Connection

from aplypro_students.domain.calendar import AcademyCalendar, Summer


async def upsert_summers(conn: Connection, summers: Mapping[tuple[str, int], Summer]) -> None:
    """Replaces the rows of the same academy and year; others stay (a file may cover a few years only)."""
    await conn.executemany(
        "INSERT INTO school_calendar (academy_code, school_year, classes_end, classes_resume) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (academy_code, school_year) DO UPDATE SET "
        "classes_end = EXCLUDED.classes_end, classes_resume = EXCLUDED.classes_resume, loaded_at = now()",
        [(code, year, s.classes_end, s.classes_resume) for (code, year), s in sorted(summers.items())])


async def calendar_of(conn: Connection, academy_code: str | None) -> AcademyCalendar:
    """The academy's loaded summers (a few rows); none, or no academy: the fallback."""
    if academy_code is None:
        return AcademyCalendar(None)
    rows = await conn.fetch("SELECT school_year, classes_end, classes_resume FROM school_calendar "
                            "WHERE academy_code = $1", academy_code)
    return AcademyCalendar(academy_code, {r["school_year"]: Summer(r["classes_end"], r["classes_resume"])
                                          for r in rows})
