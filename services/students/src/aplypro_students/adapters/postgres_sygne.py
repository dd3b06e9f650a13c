"""What the SYGNE import reads before calling the API: who is known, and where they are already placed."""

from __future__ import annotations

from collections.abc import Sequence

from aplypro_servicekit.db import Connection


async def placements_in(conn: Connection, ines: Sequence[str], uai: str, school_year: int,
                        ) -> dict[str, set[tuple[str, str]]]:
    """(class label, MEF) of each student's open schoolings in that establishment and year, by INE."""
    rows = await conn.fetch(
        "SELECT st.ine, c.label, c.mef_code FROM schoolings s JOIN students st USING (student_id) "
        "JOIN classes c USING (class_id) WHERE st.ine = ANY($1::text[]) AND c.uai = $2 AND c.school_year = $3 "
        "AND s.end_date IS NULL", list(ines), uai, school_year)
    out: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        out.setdefault(r["ine"], set()).add((r["label"], r["mef_code"]))
    return out


async def schoolings_in(conn: Connection, ines: Sequence[str], uai: str, school_year: int,
                        ) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(start, end or "") as ISO text of each student's schoolings in that establishment and year, by
    (INE, class label, MEF): what a queued list row is checked against before the detail lane applies it."""
    rows = await conn.fetch(
        "SELECT st.ine, c.label, c.mef_code, s.start_date, s.end_date FROM schoolings s "
        "JOIN students st USING (student_id) JOIN classes c USING (class_id) "
        "WHERE st.ine = ANY($1::text[]) AND c.uai = $2 AND c.school_year = $3", list(ines), uai, school_year)
    return {(r["ine"], r["label"], r["mef_code"]): (r["start_date"].isoformat(),
                                                    r["end_date"].isoformat() if r["end_date"] else "")
            for r in rows}


async def sygne_establishments(conn: Connection) -> list[str]:
    """Every establishment SYGNE serves (MENJ, Armées, Mer: all but agriculture), by UAI."""
    rows = await conn.fetch("SELECT uai FROM establishments WHERE ministry <> 'MASA' ORDER BY uai")
    return [r["uai"] for r in rows]
