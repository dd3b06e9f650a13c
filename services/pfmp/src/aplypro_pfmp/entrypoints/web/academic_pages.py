"""Academic users' pages (features.md §1, §2, §4): read-only. Their academy's establishments with the
indicators pfmp can compute (counts, and amounts in euros), then an establishment's classes and a class's
students and PFMPs. Their exports and the national view: academic_exports; the same data as JSON: academic_api.

No form and no write route here; every establishment route (security.staff_of) answers them 403, which
tests/test_web_other_roles.py checks for every POST route of the application.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import indicators_sql, schooling_badges_sql, web_sql
from aplypro_pfmp.domain.indicators import colour, shown

from . import academic_reads
from .academy_map import academy_map
from .money_view import euros
from .rendering import render
from .role_guards import academic_of, academies_of, today_of
from .security import User, current_user

Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
Academy = Annotated[str, Path(pattern=r"^[0-9A-Z]{2,3}$")]
CurrentUser = Annotated[User, Depends(current_user)]


def paid_map(request: Request, paid: academic_reads.YearRows) -> dict[str, object]:
    """The academic home's map: the amount paid in each academy of the user's scope (the others grey), each
    linking to its academy's page; with the same values as a table (`paid_rows`)."""
    suffix = "" if paid.year is None else f"?annee={paid.year}"
    title = "Montant payé par académie" + ("" if paid.year is None else f", {paid.year}-{paid.year + 1}")
    return {"paid_year": paid.year, "paid_rows": [r for r in paid.rows if r.key],
            "paid_map": academy_map(title, {r.key: r.counts.payment_requests_paid_sum for r in paid.rows if r.key},
                                    euros, href=lambda code: f"{request.url_for('academy', code=code)}{suffix}")}


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/academie", name="academic_home")
    async def academic_home(request: Request, user: CurrentUser) -> Response:
        scope = academies_of(user)
        if scope is not None and len(scope) == 1:
            return RedirectResponse(request.url_for("academy", code=scope[0]), status_code=303)
        async with request.app.state.pool.acquire() as conn:
            codes = scope if scope is not None else [r["academy_code"] for r in await conn.fetch(
                "SELECT DISTINCT academy_code FROM schoolings WHERE academy_code IS NOT NULL ORDER BY 1")]
            paid = await academic_reads.paid_by_academy(conn, scope, None, today_of(request))
        return render(request, "academic_home.html", {"title": "Académies", "codes": codes,
                                                      **paid_map(request, paid)})

    @router.get("/academie/{code}", name="academy")
    async def academy(request: Request, code: Academy, user: CurrentUser, annee: int | None = None) -> Response:
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            found = await academic_reads.academy_establishments(conn, code, annee, today_of(request))
            paid = await academic_reads.paid_by_academy(conn, academies_of(user), found.year, today_of(request))
        return render(request, "academy.html", {"title": f"Académie {code}", "code": code, "years": found.years,
                                                "year": found.year, "rows": found.rows, "shown": shown,
                                                "colour": colour, **paid_map(request, paid)})

    @router.get("/academie/{code}/etablissements/{uai}", name="academic_establishment")
    async def establishment(request: Request, code: Academy, uai: Uai, user: CurrentUser,
                            annee: int | None = None) -> Response:
        academic_of(user, code)
        async with request.app.state.pool.acquire() as conn:
            view = await academic_reads.establishment_view(conn, code, uai, annee, today_of(request))
        if view is None:
            raise HTTPException(404)
        years, year, classes, counts, users = view
        return render(request, "academic_establishment.html", {
            "title": f"Établissement {uai}", "code": code, "uai": uai, "years": years, "year": year,
            "classes": classes, "counts": counts, "shown": shown, "colour": colour, "users": users})

    @router.get("/academie/{code}/etablissements/{uai}/annees/{year}/classes/{label}", name="academic_class")
    async def klass(request: Request, code: Academy, uai: Uai, year: int, label: str, user: CurrentUser) -> Response:
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
        return render(request, "academic_class.html", {"title": f"Classe {label}", "code": code, "uai": uai,
                                                       "year": year, "label": label, "students": students,
                                                       "pfmps": pfmps, "decisions": decisions})

    return router
