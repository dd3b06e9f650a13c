"""SQL of departure detection: the open schoolings of an establishment and year, with their student's INE."""

from __future__ import annotations

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
