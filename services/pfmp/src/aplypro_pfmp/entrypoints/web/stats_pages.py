"""The public `/stats` page (features.md §4): aggregate figures only, no login, nothing about one student
or one establishment: the total paid, national counts and, per academy, schoolings, validated PFMPs and their
amounts (in euros; the read model keeps integer cents), as two maps by academy (schoolings, validated amounts)
and the table beside them.
"""

from __future__ import annotations

from dataclasses import fields

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aplypro_pfmp.adapters import indicators_sql
from aplypro_pfmp.domain.indicators import Counts

from .academy_map import AcademyMap, academy_map
from .money_view import euros
from .rendering import render
from .role_guards import today_of


def total(rows: list[indicators_sql.Keyed]) -> Counts:
    return Counts(**{f.name: sum(getattr(r.counts, f.name) for r in rows) for f in fields(Counts)})


def count_text(value: int) -> str:
    """12345 -> "12 345" (French grouping, narrow no-break space)."""
    return f"{value:,}".replace(",", "\u202f")


def maps(rows: list[indicators_sql.Keyed]) -> list[tuple[str, AcademyMap]]:
    """The public maps: schoolings and validated amounts by academy (map id, map)."""
    return [("carte-scolarites", academy_map("Scolarités par académie",
                                             {r.key: r.counts.schoolings_count for r in rows}, count_text)),
            ("carte-montants", academy_map("Montant des PFMP validées par académie",
                                           {r.key: r.counts.pfmps_validated_sum for r in rows}, euros))]


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/stats", name="stats")
    async def stats(request: Request, annee: int | None = None) -> Response:
        async with request.app.state.pool.acquire() as conn:
            years = await indicators_sql.school_years(conn)
            year = annee if annee in years else (years[0] if years else None)
            rows = [] if year is None else await indicators_sql.counts(
                conn, by="academy", school_year=year, today=today_of(request))
        return render(request, "stats.html", {"title": "Statistiques", "years": years, "year": year,
                                              "rows": rows, "total": total(rows), "maps": maps(rows)})

    return router
