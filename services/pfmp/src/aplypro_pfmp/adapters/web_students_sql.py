"""Read queries of the student search and the RIB pages, on pfmp's projection: a student is found only through
a schooling of the selected establishment (features.md §1), and "has a RIB" is the RibOnFile fact for that
establishment (the bank data itself stays in the students service)."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection

PAGE_SIZE = 50  # features.md §2: 50 per page


class Found(NamedTuple):
    student_id: UUID
    last_name: str
    first_names: list[str]
    school_year: int
    class_label: str | None


class SearchPage(NamedTuple):
    students: list[Found]
    total: int
    page: int
    pages: int


async def search_students(conn: Connection, uai: str, words: list[str], page: int) -> SearchPage:
    """Students of `uai` whose folded name contains every folded word (migration 0008's search_key), each with
    their latest schooling there; `page` from 1."""
    rows = await conn.fetch(
        "WITH latest AS (SELECT DISTINCT ON (s.student_id) s.student_id, s.school_year, s.class_label "
        "  FROM schoolings s WHERE s.uai = $1 ORDER BY s.student_id, s.school_year DESC, s.start_date DESC) "
        "SELECT st.student_id, st.last_name, st.first_names, l.school_year, l.class_label, count(*) OVER () AS n "
        "FROM latest l JOIN students st USING (student_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM unnest($2::text[]) w WHERE strpos("
        "  search_key(st.last_name || ' ' || array_to_string(st.first_names, ' ')), search_key(w)) = 0) "
        "ORDER BY search_key(st.last_name), search_key(array_to_string(st.first_names, ' ')), st.student_id "
        "LIMIT $3 OFFSET $4", uai, words, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    total = int(rows[0]["n"]) if rows else 0
    if not rows and page > 1:  # past the end: say how many there are
        total = int(await conn.fetchval(
            "SELECT count(DISTINCT s.student_id) FROM schoolings s JOIN students st USING (student_id) "
            "WHERE s.uai = $1 AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) w WHERE strpos("
            "  search_key(st.last_name || ' ' || array_to_string(st.first_names, ' ')), search_key(w)) = 0)",
            uai, words))
    found = [Found(r["student_id"], r["last_name"], list(r["first_names"]), int(r["school_year"]),
                   r["class_label"]) for r in rows]
    return SearchPage(found, total, page, max(1, -(-total // PAGE_SIZE)))


class RibLine(NamedTuple):
    student_id: UUID
    last_name: str
    first_names: list[str]
    has_rib: bool


async def class_rib_lines(conn: Connection, uai: str, school_year: int, label: str) -> list[RibLine]:
    """Every student of the class (current or left), whether a RIB is on file for this establishment."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (st.last_name, st.first_names, st.student_id) st.student_id, st.last_name, "
        "st.first_names, EXISTS (SELECT 1 FROM ribs_on_file r WHERE r.student_id = st.student_id AND r.uai = $1) "
        "AS has_rib FROM schoolings s JOIN students st USING (student_id) "
        "WHERE s.uai = $1 AND s.school_year = $2 AND s.class_label = $3 "
        "ORDER BY st.last_name, st.first_names, st.student_id", uai, school_year, label)
    return [RibLine(r["student_id"], r["last_name"], list(r["first_names"]), bool(r["has_rib"])) for r in rows]


async def has_rib_on_file(conn: Connection, student_id: UUID, uai: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM ribs_on_file WHERE student_id = $1 AND uai = $2",
                                    student_id, uai))


class ClassSchooling(NamedTuple):
    schooling_id: UUID
    student_id: UUID
    last_name: str
    first_names: list[str]
    left: bool  # Sorti(e) de la classe
    hidden: bool  # Masqué(e) manuellement de la classe


async def class_schoolings(conn: Connection, uai: str, school_year: int, label: str,
                           today: date) -> list[ClassSchooling]:
    rows = await conn.fetch(
        "SELECT s.schooling_id, s.student_id, st.last_name, st.first_names, "
        "(s.end_date IS NOT NULL AND s.end_date < $4) AS left_class, coalesce(h.hidden, false) AS hidden "
        "FROM schoolings s JOIN students st USING (student_id) "
        "LEFT JOIN hidden_schoolings h USING (schooling_id) "
        "WHERE s.uai = $1 AND s.school_year = $2 AND s.class_label = $3 "
        "ORDER BY st.last_name, st.first_names, s.schooling_id", uai, school_year, label, today)
    return [ClassSchooling(r["schooling_id"], r["student_id"], r["last_name"], list(r["first_names"]),
                           bool(r["left_class"]), bool(r["hidden"])) for r in rows]


async def schooling_class(conn: Connection, uai: str, schooling_id: UUID) -> tuple[int, str] | None:
    """(school year, class) of a schooling of `uai`; None for another establishment's."""
    row = await conn.fetchrow("SELECT school_year, class_label FROM schoolings WHERE schooling_id = $1 "
                              "AND uai = $2 AND class_label IS NOT NULL", schooling_id, uai)
    return None if row is None else (int(row["school_year"]), str(row["class_label"]))
