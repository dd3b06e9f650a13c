"""Read queries of the web pages, on pfmp's own schema (its students/schoolings projection and PFMPs).

Every query that reaches a student or a PFMP takes the establishment: a student is visible only through a
schooling of the selected establishment (features.md §1), so a row of another establishment is simply
not found (the page answers 404, never 403: no hint that it exists).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection


class ClassRow(NamedTuple):
    label: str
    students: int
    pfmps: int


class StudentRow(NamedTuple):
    student_id: UUID
    schooling_id: UUID
    last_name: str
    first_names: list[str]
    left: bool  # Sorti(e) de la classe
    pfmps: int


class PfmpRow(NamedTuple):
    pfmp_id: UUID
    schooling_id: UUID
    uai: str
    start_date: date
    end_date: date
    day_count: int | None
    status: str
    rank: int


class StudentPage(NamedTuple):
    student_id: UUID
    last_name: str
    first_names: list[str]
    schoolings: list[tuple[UUID, int, str | None, date, date | None]]  # id, year, class, start, end


async def school_years(conn: Connection, uai: str) -> list[int]:
    rows = await conn.fetch("SELECT DISTINCT school_year FROM schoolings WHERE uai = $1 ORDER BY 1 DESC", uai)
    return [int(r["school_year"]) for r in rows]


async def classes(conn: Connection, uai: str, school_year: int) -> list[ClassRow]:
    rows = await conn.fetch(
        "SELECT s.class_label AS label, count(DISTINCT s.student_id) AS students, count(p.pfmp_id) AS pfmps "
        "FROM schoolings s LEFT JOIN pfmps p ON p.schooling_id = s.schooling_id AND NOT p.deleted "
        "WHERE s.uai = $1 AND s.school_year = $2 AND s.class_label IS NOT NULL "
        "GROUP BY s.class_label ORDER BY s.class_label", uai, school_year)
    return [ClassRow(r["label"], int(r["students"]), int(r["pfmps"])) for r in rows]


async def students_of_class(conn: Connection, uai: str, school_year: int, label: str,
                            today: date) -> list[StudentRow]:
    rows = await conn.fetch(
        "SELECT st.student_id, s.schooling_id, st.last_name, st.first_names, "
        "(s.end_date IS NOT NULL AND s.end_date < $4) AS left_class, "
        "(SELECT count(*) FROM pfmps p WHERE p.schooling_id = s.schooling_id AND NOT p.deleted) AS pfmps "
        "FROM schoolings s JOIN students st USING (student_id) "
        "WHERE s.uai = $1 AND s.school_year = $2 AND s.class_label = $3 "
        "ORDER BY left_class, st.last_name, st.first_names", uai, school_year, label, today)
    return [StudentRow(r["student_id"], r["schooling_id"], r["last_name"], list(r["first_names"]),
                       bool(r["left_class"]), int(r["pfmps"])) for r in rows]


async def student(conn: Connection, uai: str, student_id: UUID) -> StudentPage | None:
    """The student if one of their schoolings is in `uai`, with those schoolings; None otherwise."""
    rows = await conn.fetch(
        "SELECT st.student_id, st.last_name, st.first_names, s.schooling_id, s.school_year, s.class_label, "
        "s.start_date, s.end_date FROM students st JOIN schoolings s USING (student_id) "
        "WHERE st.student_id = $1 AND s.uai = $2 ORDER BY s.school_year DESC, s.start_date DESC",
        student_id, uai)
    if not rows:
        return None
    first = rows[0]
    return StudentPage(first["student_id"], first["last_name"], list(first["first_names"]),
                       [(r["schooling_id"], int(r["school_year"]), r["class_label"], r["start_date"],
                         r["end_date"]) for r in rows])


async def pfmps_of_student(conn: Connection, student_id: UUID) -> list[PfmpRow]:
    """Every live PFMP of the student, any establishment (those of other establishments are read-only)."""
    rows = await conn.fetch(
        "SELECT p.pfmp_id, p.schooling_id, s.uai, p.start_date, p.end_date, p.day_count, p.status, p.rank "
        "FROM pfmps p JOIN schoolings s USING (schooling_id) WHERE p.student_id = $1 AND NOT p.deleted "
        "ORDER BY p.start_date, p.created_seq", student_id)
    return [PfmpRow(**dict(r)) for r in rows]


async def pfmp_in(conn: Connection, uai: str, pfmp_id: UUID) -> PfmpRow | None:
    """The live PFMP if its schooling is in `uai`."""
    row = await conn.fetchrow(
        "SELECT p.pfmp_id, p.schooling_id, s.uai, p.start_date, p.end_date, p.day_count, p.status, p.rank "
        "FROM pfmps p JOIN schoolings s USING (schooling_id) WHERE p.pfmp_id = $1 AND s.uai = $2 "
        "AND NOT p.deleted", pfmp_id, uai)
    return None if row is None else PfmpRow(**dict(row))


class PeriodRow(NamedTuple):
    start_date: date
    end_date: date
    pfmps: int


async def class_periods(conn: Connection, uai: str, school_year: int, label: str) -> list[PeriodRow]:
    """The PFMP periods of a class (same dates), with how many PFMPs each: the bulk day-count pages."""
    rows = await conn.fetch(
        "SELECT p.start_date, p.end_date, count(*) AS n FROM pfmps p JOIN schoolings s USING (schooling_id) "
        "WHERE s.uai = $1 AND s.school_year = $2 AND s.class_label = $3 AND NOT p.deleted "
        "GROUP BY p.start_date, p.end_date ORDER BY p.start_date, p.end_date", uai, school_year, label)
    return [PeriodRow(r["start_date"], r["end_date"], int(r["n"])) for r in rows]


class DayCountRow(NamedTuple):
    pfmp_id: UUID
    last_name: str
    first_names: list[str]
    day_count: int | None
    status: str


async def period_pfmps(conn: Connection, uai: str, school_year: int, label: str, start: date,
                       end: date) -> list[DayCountRow]:
    rows = await conn.fetch(
        "SELECT p.pfmp_id, st.last_name, st.first_names, p.day_count, p.status FROM pfmps p "
        "JOIN schoolings s USING (schooling_id) JOIN students st ON st.student_id = p.student_id "
        "WHERE s.uai = $1 AND s.school_year = $2 AND s.class_label = $3 AND p.start_date = $4 "
        "AND p.end_date = $5 AND NOT p.deleted ORDER BY st.last_name, st.first_names",
        uai, school_year, label, start, end)
    return [DayCountRow(r["pfmp_id"], r["last_name"], list(r["first_names"]), r["day_count"], r["status"])
            for r in rows]
