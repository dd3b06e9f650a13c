"""Academic reports from the weekly snapshots (features.md §2 "Reports: history, academy report"; §4): an
academy's history (the days a snapshot was taken) and its report for one day, each indicator with its change
against an earlier report (the previous one unless `contre` names another); for the national admin, the
evolution CSV (one row per report). Read-only; scope as the other academic pages (role_guards).
Snapshots are taken by `aplypro-pfmp snapshot-indicators` (adapters/snapshots_sql.py).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import Response

from aplypro_pfmp.adapters import snapshots_sql
from aplypro_pfmp.domain.indicator_changes import changes, signed
from aplypro_pfmp.domain.indicator_export import csv_text

from .academic_exports import _attachment
from .academic_reads import chosen_year
from .rendering import render
from .role_guards import academic_of, academic_user, admin_only
from .security import User, current_user

Academy = Annotated[str, Path(pattern=r"^[0-9A-Z]{2,3}$")]
CurrentUser = Annotated[User, Depends(current_user)]


def build_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(academic_user)])

    @router.get("/academie/{code}/rapports", name="academic_reports")
    async def history(request: Request, code: Academy, user: CurrentUser, annee: int | None = None) -> Response:
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            years = await snapshots_sql.report_years(conn)
            year = chosen_year(years, annee)
            days = [] if year is None else await snapshots_sql.report_days(conn, year)
        return render(request, "academic_reports.html", {"title": f"Rapports, académie {code}", "code": code,
                                                         "years": years, "year": year, "days": days})

    @router.get("/academie/{code}/rapports/{taken_on}", name="academic_report")
    async def report(request: Request, code: Academy, taken_on: date, user: CurrentUser, annee: int,
                     contre: date | None = None) -> Response:
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            days = await snapshots_sql.report_days(conn, annee)
            now = await snapshots_sql.one(conn, taken_on, annee, "academy", code)
            if now is None:
                raise HTTPException(404)
            earlier_days = [d for d in days if d < taken_on]
            against = contre if contre in earlier_days else (earlier_days[0] if earlier_days else None)
            before = None if against is None else await snapshots_sql.one(conn, against, annee, "academy", code)
        return render(request, "academic_report.html", {
            "title": f"Rapport du {taken_on.strftime('%d/%m/%Y')}, académie {code}", "code": code, "year": annee,
            "taken_on": taken_on, "against": against, "earlier_days": earlier_days,
            "changes": changes(now, before), "signed": signed})

    @router.get("/national/evolution.csv", name="national_evolution")
    async def evolution(request: Request, user: CurrentUser, annee: int | None = None) -> Response:
        admin_only(user)
        async with request.app.state.pool.acquire() as conn:
            year = chosen_year(await snapshots_sql.report_years(conn), annee)
            if year is None:
                raise HTTPException(404)
            rows = await snapshots_sql.series(conn, year, "national", "")
        text = csv_text("Rapport", [(day.isoformat(), counts) for day, counts in rows])
        return _attachment(text.encode("utf-8"), "text/csv; charset=utf-8",
                           f"evolution-{year}-{year + 1}.csv")

    return router
