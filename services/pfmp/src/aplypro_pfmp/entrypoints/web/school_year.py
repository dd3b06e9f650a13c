"""The school year an establishment page shows: the URL's, else the session's, else the latest (features.md §1)."""

from __future__ import annotations

from aplypro_servicekit.db import Connection
from fastapi import Request

from aplypro_pfmp.adapters import web_sql


async def chosen_year(request: Request, conn: Connection, uai: str, annee: int | None) -> tuple[list[int], int | None]:
    """The establishment's years and the one shown, remembered in the session for the next page."""
    years = await web_sql.school_years(conn, uai)
    remembered = request.session.get("school_year")
    year = annee if annee in years else remembered if remembered in years else (years[0] if years else None)
    if year is not None:
        request.session["school_year"] = year
    return years, year
