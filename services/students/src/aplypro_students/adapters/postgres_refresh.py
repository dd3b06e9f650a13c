"""What a per-student refresh reads: the student's known schoolings, by (UAI, year, class, MEF)."""

from __future__ import annotations

from aplypro_servicekit.db import Connection

SchoolingKey = tuple[str, int, str, str]  # (uai, school_year, class label, 10-character MEF)


async def schooling_keys_of(conn: Connection, ine: str) -> set[SchoolingKey]:
    rows = await conn.fetch(
        "SELECT c.uai, c.school_year, c.label, c.mef_code FROM schoolings s JOIN classes c USING (class_id) "
        "JOIN students st USING (student_id) WHERE st.ine = $1", ine)
    return {(r["uai"], r["school_year"], r["label"], r["mef_code"]) for r in rows}


async def student_exists(conn: Connection, ine: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM students WHERE ine = $1)", ine))
