"""Academic and national reports as files (features.md §2 "Reports: establishments table", "National view,
exports"; §4 "Exports"): an academy's establishments table as CSV for its academic users, and for the national
admin the national view (budget prefixes and academies with their indicators) and a zip of four CSVs (global,
budget prefixes, academies, establishments with their name, ministry, academy and sector).

Aggregates only, no student: nothing personal in these files. File names carry codes and years only.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import Response

from aplypro_pfmp.domain.indicator_export import csv_table, csv_text, plain_text, zip_of
from aplypro_pfmp.domain.indicators import colour, shown

from . import academic_reads
from .rendering import render
from .role_guards import academic_of, academic_user, admin_only, today_of
from .security import User, current_user

log = structlog.get_logger(__name__)
Academy = Annotated[str, Path(pattern=r"^[0-9A-Z]{2,3}$")]
CurrentUser = Annotated[User, Depends(current_user)]


def _attachment(data: bytes, media_type: str, name: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def establishments_csv(rows: list[academic_reads.EstablishmentRow]) -> str:
    return csv_table(("UAI", "Nom", "Ministère", "Académie", "Secteur"),
                     (((r.uai, plain_text(r.name), plain_text(r.ministry), plain_text(r.academy_code), r.sector),
                       r.counts) for r in rows))


def build_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(academic_user)])

    @router.get("/academie/{code}/indicateurs.csv", name="academy_export")
    async def academy_csv(request: Request, code: Academy, user: CurrentUser, annee: int | None = None) -> Response:
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            found = await academic_reads.academy_establishments(conn, code, annee, today_of(request))
        if found.year is None:
            raise HTTPException(404)
        text = csv_text("UAI", [(r.key, r.counts) for r in found.rows])
        log.info("academic_export", academy=code, school_year=found.year, rows=len(found.rows))
        return _attachment(text.encode("utf-8"), "text/csv; charset=utf-8",
                           f"indicateurs-academie-{code}-{found.year}-{found.year + 1}.csv")

    @router.get("/national", name="national")
    async def national_view(request: Request, user: CurrentUser, annee: int | None = None) -> Response:
        admin_only(user)
        async with request.app.state.pool.acquire() as conn:
            found = await academic_reads.national(conn, annee, today_of(request))
            prefixes = [] if found.year is None else await academic_reads.budget_prefixes(
                conn, found.year, today_of(request))
        return render(request, "national.html", {
            "title": "Vue nationale", "years": found.years, "year": found.year, "rows": found.rows,
            "prefixes": prefixes, "total": academic_reads.total(found.rows), "shown": shown, "colour": colour})

    @router.get("/national/indicateurs.zip", name="national_export")
    async def national_zip(request: Request, user: CurrentUser, annee: int | None = None) -> Response:
        admin_only(user)
        async with request.app.state.pool.acquire() as conn:
            found = await academic_reads.national(conn, annee, today_of(request))
            if found.year is None:
                raise HTTPException(404)
            prefixes = await academic_reads.budget_prefixes(conn, found.year, today_of(request))
            schools = await academic_reads.described(
                conn, await academic_reads.national_establishments(conn, found.year, today_of(request)))
        files = [("global.csv", csv_text("Périmètre", [("National", academic_reads.total(found.rows))])),
                 ("prefixes_budgetaires.csv", csv_text("Préfixe budgétaire", [(r.key, r.counts) for r in prefixes])),
                 ("academies.csv", csv_text("Académie", [(r.key, r.counts) for r in found.rows])),
                 ("etablissements.csv", establishments_csv(schools))]
        log.info("national_export", school_year=found.year, academies=len(found.rows), establishments=len(schools))
        return _attachment(zip_of(files), "application/zip", f"indicateurs-{found.year}-{found.year + 1}.zip")

    return router
