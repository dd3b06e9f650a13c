"""SQL of departure detection: the open schoolings of an establishment and year, with their student's INE."""

from __future__ import annotations

from collections.abc import Collection

from aplypro_servicekit.db import Connection

from aplypro_students.adapters.postgres import schooling_from_row
from aplypro_students.domain.model import Schooling


async def open_schoolings_in(conn: Connection, uai: str, school_year: int) -> list[tuple[str, Schooling]]:
    """(INE, schooling) of every open, non-hidden schooling of the establishment and year (§5.9: hidden
    ones are left out of departure detection), locked for this import; all classes, so a class that
    vanished from the snapshot is caught too."""
    rows = await conn.fetch(
        "SELECT st.ine, s.*, c.school_year FROM schoolings s JOIN classes c USING (class_id) "
        "JOIN students st USING (student_id) WHERE c.uai = $1 AND c.school_year = $2 AND s.end_date IS NULL "
        "AND s.hidden_at IS NULL ORDER BY s.schooling_id FOR UPDATE OF s", uai, school_year)
    return [(r["ine"], schooling_from_row(r)) for r in rows]


async def survivor_ines(conn: Connection, ines: Collection[str]) -> set[str]:
    """The INEs of the survivors of merged students among these INEs (imports.md §5.8): a source that still
    lists a merged INE lists its survivor, who has not left."""
    rows = await conn.fetch("SELECT s.ine FROM students t JOIN students s ON s.student_id = t.merged_into "
                            "WHERE t.ine = ANY($1::text[])", list(ines))
    return {r["ine"] for r in rows}
