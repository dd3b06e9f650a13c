"""Staff pages of one establishment: classes, a class's students and PFMPs, a student's PFMPs; add a PFMP
(any staff of the establishment), validate one (the confirmed director). Each route checks the user's role
and establishment on the server; a student or PFMP of another establishment is a 404.

A POST answers with a redirect to the page that shows its result at once: the PFMP is in pfmp's own
tables when the transaction commits, before any other service hears of it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

import structlog
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_servicekit.record_size import RecordTooLarge
from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import decision_content_sql, web_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.access import confirm_director, confirmed_director
from aplypro_pfmp.service_layer.lifecycle import add_pfmp
from aplypro_pfmp.service_layer.validation import validate_pfmps

from . import decision_pages, money_view
from .labels import PFMP_STATUS, error_message
from .rendering import flash, render
from .school_year import chosen_year
from .security import User, current_user, director_of, staff_of

log = structlog.get_logger(__name__)
PARIS = ZoneInfo("Europe/Paris")  # "today" for schools is the French calendar day
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]


def today() -> date:
    return datetime.now(PARIS).date()


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/", name="home")
    async def home(request: Request) -> Response:
        user = request.session.get("user") and current_user(request)
        if user and len(user.roles.establishments) == 1:
            (uai,) = user.roles.establishments
            return RedirectResponse(request.url_for("establishment", uai=uai), status_code=303)
        if user and not user.roles.establishments:  # academic users and ASP agents: their own pages
            target = "academic_home" if user.roles.academies else "asp_search"
            return RedirectResponse(request.url_for(target), status_code=303)
        return render(request, "home.html", {"title": "Accueil"})

    @router.get("/etablissements/{uai}", name="establishment")
    async def establishment(request: Request, uai: Uai, user: CurrentUser, annee: int | None = None) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            years, year = await chosen_year(request, conn, uai, annee)
            classes = await web_sql.classes(conn, uai, year) if year is not None else []
            decisions = await decision_pages.panel(conn, uai, year, None, user) if year is not None else {}
        return render(request, "establishment.html", {"title": f"Établissement {uai}", "uai": uai, "years": years,
                                                      "year": year, "classes": classes, **decisions})

    @router.get("/etablissements/{uai}/annees/{year}/classes/{label}", name="class_page")
    async def class_page(request: Request, uai: Uai, year: int, label: str, user: CurrentUser) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            students = await web_sql.students_of_class(conn, uai, year, label, today())
            if not students:
                raise HTTPException(404)
            pfmps = {s.student_id: await web_sql.pfmps_of_student(conn, s.student_id) for s in students}
            holder = await confirmed_director(conn, uai)
            periods = await web_sql.class_periods(conn, uai, year, label)
            decisions = await decision_pages.panel(conn, uai, year, label, user)
            stale = await decision_content_sql.stale(conn, [s.schooling_id for s in students])
        return render(request, "class.html", {"periods": periods, **decisions,
            "stale": {k: money_view.stale_words(v) for k, v in stale.items()},
            "title": f"Classe {label}", "uai": uai, "year": year, "label": label, "students": students,
            "pfmps": pfmps, "is_director": uai in user.roles.director_of, "confirmed": holder == user.user_id,
            "other_confirmed": holder is not None and holder != user.user_id})

    @router.get("/etablissements/{uai}/eleves/{student_id}", name="student_page")
    async def student_page(request: Request, uai: Uai, student_id: UUID, user: CurrentUser) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            student = await web_sql.student(conn, uai, student_id)
            if student is None:
                raise HTTPException(404)
            pfmps = await web_sql.pfmps_of_student(conn, student_id)
            holder = await confirmed_director(conn, uai)
            clock = getattr(request.app.state, "today", None) or today  # tests put their own clock there
            money = await money_view.student_context(conn, student, pfmps, clock())  # amounts, payments, decisions
        return render(request, "student.html", {**money,
            "title": f"{student.last_name} {' '.join(student.first_names)}", "uai": uai, "student": student,
            "pfmps": pfmps, "is_director": uai in user.roles.director_of, "confirmed": holder == user.user_id,
            "other_confirmed": holder is not None and holder != user.user_id, "statuses": PFMP_STATUS})

    @router.post("/etablissements/{uai}/eleves/{student_id}/pfmps", name="add_pfmp")
    async def add(request: Request, uai: Uai, student_id: UUID, user: CurrentUser,
                  schooling_id: Annotated[str, Form()] = "", start_date: Annotated[str, Form()] = "",
                  end_date: Annotated[str, Form()] = "", day_count: Annotated[str, Form()] = "") -> Response:
        staff_of(user, uai)
        back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
        try:
            schooling, start, end = UUID(schooling_id), date.fromisoformat(start_date), date.fromisoformat(end_date)
            days = int(day_count) if day_count.strip() else None
        except ValueError:
            flash(request, "error", error_message("invalid_form"))
            return back
        async with request.app.state.pool.acquire() as conn:
            if await web_sql.student(conn, uai, student_id) is None:
                raise HTTPException(404)
            try:
                async with conn.transaction():
                    recorded = await add_pfmp(conn, schooling, start, end, days, user.user_id, uai=uai,
                                              topic=request.app.state.pfmp_settings.topic(PFMP_EVENTS))
            except (PfmpError, RecordTooLarge) as exc:
                log.info("pfmp_refused", code=exc.code)
                flash(request, "error", error_message(exc.code))
                return back
        log.info("pfmp_added", pfmp_id=str(recorded.pfmp.pfmp_id), outcome=recorded.outcome.value)
        flash(request, "success", "La PFMP est enregistrée." if recorded.outcome.value != "unchanged"
              else "Cette PFMP existait déjà : rien n'a changé.")
        return back

    @router.post("/etablissements/{uai}/pfmps/{pfmp_id}/validation", name="validate_pfmp")
    async def validate(request: Request, uai: Uai, pfmp_id: UUID, user: CurrentUser,
                       statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        settings = request.app.state.pfmp_settings
        async with request.app.state.pool.acquire() as conn:
            pfmp = await web_sql.pfmp_in(conn, uai, pfmp_id)
            if pfmp is None:
                raise HTTPException(404)
            student_id = (await conn.fetchval("SELECT student_id FROM pfmps WHERE pfmp_id = $1", pfmp_id))
            back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
            try:
                async with conn.transaction():
                    holder = await confirmed_director(conn, uai)
                    if holder != user.user_id:
                        if holder is None and not statement:
                            raise PfmpError("statement_required", "the confirmed director's statement is needed")
                        await confirm_director(conn, uai, user.user_id)
                report = None
                async with conn.transaction():
                    report = await validate_pfmps(conn, [pfmp_id], user.user_id, today=today(),
                                                  topic=settings.topic(PFMP_EVENTS), require_rib=settings.require_rib)
            except PfmpError as exc:
                flash(request, "error", error_message(exc.code))
                return back
        if report.refused:
            for refusal in report.refused:
                flash(request, "error", error_message(refusal.code))
            return back
        log.info("pfmp_validated_by_director", pfmp_id=str(pfmp_id))
        flash(request, "success", "La PFMP est validée : elle part en paiement.")
        return back

    return router
