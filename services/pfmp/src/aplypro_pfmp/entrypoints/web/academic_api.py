"""The JSON API of the academic pages (`/api/v1/academies/...`, `/api/v1/national/...`): the same reads as
academic_pages and academic_exports (academic_reads), the same session and the same guards: 401 without a
session, 403 for a user who is not academic (or not the national admin for the national view), 404 for
another academy or an establishment outside it. Read-only: no write route.

Amounts are integer cents; a ratio is a number rounded to 4 decimals, null for an infinite one (features.md
§4's *Infini*). Student names appear in bodies only (a class's students), never in a URL.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime
from fractions import Fraction
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field, create_model

from aplypro_pfmp.adapters import indicators_sql, schooling_badges_sql, snapshots_sql, web_sql
from aplypro_pfmp.domain.indicators import Counts

from . import academic_reads
from .labels import PFMP_STATUS
from .role_guards import academic_of, academic_user, admin_only, today_of
from .security import User, current_user

Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$", description="Establishment UAI")]
Academy = Annotated[str, Path(pattern=r"^[0-9A-Z]{2,3}$", description="Academy code")]
CurrentUser = Annotated[User, Depends(current_user)]
RATIO_KEYS = tuple(Counts().ratios)

# One field per indicator, built from domain.indicators so the API follows it.
CountsOut: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "CountsOut", __doc__="features.md §4 counts; `_sum` fields are integer cents.",
    **{f.name: (int, ...) for f in fields(Counts)})
RatiosOut: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "RatiosOut", __doc__="features.md §4 ratios, 4 decimals; null: infinite (a count over zero).",
    **{key: (float | None, ...) for key in RATIO_KEYS})


class IndicatorsOut(BaseModel):
    key: str = Field(description="A UAI, an academy code ('' when the establishment gave none), a budget prefix "
                     "(ENPU, ENPR, MASA, MER, AUTRE), or 'national'")
    counts: CountsOut
    ratios: RatiosOut


class TableOut(BaseModel):
    school_year: int | None = Field(description="The year shown (null: nothing known yet)")
    school_years: list[int]
    rows: list[IndicatorsOut]


class ClassOut(BaseModel):
    label: str
    students: int
    pfmps: int


class InvitedOut(BaseModel):
    email: str
    invited_at: datetime


class EstablishmentOut(BaseModel):
    uai: str
    academy: str
    school_year: int | None
    school_years: list[int]
    indicators: IndicatorsOut | None
    classes: list[ClassOut]
    director_confirmed_at: datetime | None = Field(description="When a director ticked the statement (null: none)")
    invited_staff: list[InvitedOut] = Field(description="Live staff invitations (delegated staff come from claims)")


class ClassPfmpOut(BaseModel):
    start_date: date
    end_date: date
    day_count: int | None
    status: str
    status_label: str


class ClassStudentOut(BaseModel):
    student_id: UUID
    last_name: str
    first_names: list[str]
    left: bool = Field(description="Sorti(e) de la classe")
    decision_label: str = Field(description="The DA's state in the academic words: Générée, Annulée, "
                                            "En cours de génération, Non générée")
    pfmps: list[ClassPfmpOut]


class ReportsOut(BaseModel):
    school_year: int | None
    school_years: list[int]
    days: list[date] = Field(description="Days a weekly report was taken, latest first")


class ReportOut(BaseModel):
    school_year: int
    taken_on: date
    indicators: IndicatorsOut
    against: date | None = Field(description="The earlier report compared with (null: the year's first)")
    earlier: IndicatorsOut | None


def _ratio(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


def indicators(key: str, counts: Counts) -> IndicatorsOut:
    return IndicatorsOut(key=key, counts=CountsOut(**{f.name: getattr(counts, f.name) for f in fields(Counts)}),
                         ratios=RatiosOut(**{k: _ratio(v) for k, v in counts.ratios.items()}))


SCOPE: dict[int | str, dict[str, Any]] = {
    401: {"description": "no session"}, 403: {"description": "not an academic user"},
    404: {"description": "another academy, or an establishment or class outside it"}}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["academic"], dependencies=[Depends(academic_user)])

    @router.get("/academies/{code}/etablissements", response_model=TableOut, responses=SCOPE)
    async def academy(request: Request, code: Academy, user: CurrentUser, annee: int | None = None) -> TableOut:
        """The academy's establishments with their indicators, ranked by amount paid (the academic home)."""
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            found = await academic_reads.academy_establishments(conn, code, annee, today_of(request))
        return TableOut(school_year=found.year, school_years=found.years,
                        rows=[indicators(r.key, r.counts) for r in found.rows])

    @router.get("/academies/{code}/etablissements/{uai}", response_model=EstablishmentOut, responses=SCOPE)
    async def establishment(request: Request, code: Academy, uai: Uai, user: CurrentUser,
                            annee: int | None = None) -> EstablishmentOut:
        """One establishment of the academy: its indicators and its classes with their counters."""
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            view = await academic_reads.establishment_view(conn, code, uai, annee, today_of(request))
        if view is None:
            raise HTTPException(404)
        years, year, classes, counts, users = view
        return EstablishmentOut(uai=uai, academy=code, school_year=year, school_years=years,
                                indicators=None if counts is None else indicators(uai, counts),
                                classes=[ClassOut(label=c.label, students=c.students, pfmps=c.pfmps)
                                         for c in classes],
                                director_confirmed_at=users.director_confirmed_at,
                                invited_staff=[InvitedOut(email=e, invited_at=at) for e, at in users.invited])

    @router.get("/academies/{code}/etablissements/{uai}/annees/{year}/classes/{label}",
                response_model=list[ClassStudentOut], responses=SCOPE)
    async def klass(request: Request, code: Academy, uai: Uai, year: int, label: str,
                    user: CurrentUser) -> list[ClassStudentOut]:
        """A class's students (current first, then those who left) and their PFMPs, read-only."""
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            if not await indicators_sql.establishment_in(conn, uai, [code]):
                raise HTTPException(404)
            students = await web_sql.students_of_class(conn, uai, year, label, today_of(request))
            if not students:
                raise HTTPException(404)
            pfmps = {s.student_id: [p for p in await web_sql.pfmps_of_student(conn, s.student_id) if p.uai == uai]
                     for s in students}  # this establishment's only: another may be in another academy
            decisions = await schooling_badges_sql.academic_decisions(conn, [s.schooling_id for s in students])
        return [ClassStudentOut(
            student_id=s.student_id, last_name=s.last_name, first_names=s.first_names, left=s.left,
            decision_label=decisions[s.schooling_id],
            pfmps=[ClassPfmpOut(start_date=p.start_date, end_date=p.end_date, day_count=p.day_count, status=p.status,
                                status_label=PFMP_STATUS.get(p.status, (p.status, ""))[0])
                   for p in pfmps[s.student_id]]) for s in students]

    @router.get("/academies/{code}/rapports", response_model=ReportsOut, responses=SCOPE)
    async def reports(request: Request, code: Academy, user: CurrentUser, annee: int | None = None) -> ReportsOut:
        """The days a weekly report was taken (latest first), for the chosen school year."""
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            years = await snapshots_sql.report_years(conn)
            year = academic_reads.chosen_year(years, annee)
            days = [] if year is None else await snapshots_sql.report_days(conn, year)
        return ReportsOut(school_year=year, school_years=years, days=days)

    @router.get("/academies/{code}/rapports/{taken_on}", response_model=ReportOut, responses=SCOPE)
    async def report(request: Request, code: Academy, taken_on: date, user: CurrentUser, annee: int,
                     contre: date | None = None) -> ReportOut:
        """The academy's indicators at a report and at an earlier one (`contre`, else the previous report)."""
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            now = await snapshots_sql.one(conn, taken_on, annee, "academy", code)
            if now is None:
                raise HTTPException(404)
            earlier = [d for d in await snapshots_sql.report_days(conn, annee) if d < taken_on]
            against = contre if contre in earlier else (earlier[0] if earlier else None)
            before = None if against is None else await snapshots_sql.one(conn, against, annee, "academy", code)
        return ReportOut(school_year=annee, taken_on=taken_on, indicators=indicators(code, now), against=against,
                         earlier=None if before is None else indicators(code, before))

    @router.get("/national/academies", response_model=TableOut,
                responses={**SCOPE, 403: {"description": "not the national admin"}})
    async def national(request: Request, user: CurrentUser, annee: int | None = None) -> TableOut:
        """Every academy's indicators and the national total (last row, key `national`): the national view."""
        admin_only(user)
        async with request.app.state.pool.acquire() as conn:
            found = await academic_reads.national(conn, annee, today_of(request))
        rows = [indicators(r.key, r.counts) for r in found.rows]
        if found.year is not None:
            rows.append(indicators("national", academic_reads.total(found.rows)))
        return TableOut(school_year=found.year, school_years=found.years, rows=rows)

    @router.get("/national/prefixes", response_model=TableOut,
                responses={**SCOPE, 403: {"description": "not the national admin"}})
    async def national_prefixes(request: Request, user: CurrentUser, annee: int | None = None) -> TableOut:
        """Every budget prefix's indicators (ENPU, ENPR, MASA, MER, each even when empty, then AUTRE when some
        schoolings fall under none of them): the national view's budget-prefix table."""
        admin_only(user)
        async with request.app.state.pool.acquire() as conn:
            found = await academic_reads.national(conn, annee, today_of(request))
            prefixes = [] if found.year is None else await academic_reads.budget_prefixes(
                conn, found.year, today_of(request))
        return TableOut(school_year=found.year, school_years=found.years,
                        rows=[indicators(r.key, r.counts) for r in prefixes])

    return router
