"""A class at once: one PFMP with the same dates for every current student (any staff), and the validation
of the PFMPs ticked on the class page (*Envoyer en paiement les PFMPs cochées*, the confirmed director).
Both are all or nothing, as pfmp's use cases are; a refusal is reported by reason, never by name (the
flash message travels in the signed session cookie)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Annotated
from uuid import UUID

import structlog
from aplypro_contracts.topics import PFMP_EVENTS
from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import web_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.access import confirm_director, confirmed_director
from aplypro_pfmp.service_layer.class_actions import ClassRef, record_for_class
from aplypro_pfmp.service_layer.validation import validate_pfmps

from .labels import error_message
from .pages import today
from .rendering import flash
from .security import User, current_user, director_of, staff_of

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]


class _Undo(Exception):
    """Rolls the transaction back: one refused student or PFMP, nothing written."""


def _refusals(codes: Sequence[str], what: str) -> str:
    counts = Counter(codes)
    reasons = " ".join(f"{n} {what} : {error_message(code)}" for code, n in counts.items())
    return f"Rien n'a été enregistré. {reasons}"


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/etablissements/{uai}/annees/{year}/classes/{label}/pfmps", name="add_class_pfmp")
    async def add_for_class(request: Request, uai: Uai, year: int, label: str, user: CurrentUser,
                            start_date: Annotated[str, Form()] = "", end_date: Annotated[str, Form()] = "",
                            day_count: Annotated[str, Form()] = "") -> Response:
        staff_of(user, uai)
        back = RedirectResponse(request.url_for("class_page", uai=uai, year=year, label=label), status_code=303)
        try:
            start, end = date.fromisoformat(start_date), date.fromisoformat(end_date)
            days = int(day_count) if day_count.strip() else None
        except ValueError:
            flash(request, "error", error_message("invalid_form"))
            return back
        topic = request.app.state.pfmp_settings.topic(PFMP_EVENTS)
        async with request.app.state.pool.acquire() as conn:
            if not await web_sql.students_of_class(conn, uai, year, label, today()):
                raise HTTPException(404)
            try:
                async with conn.transaction():
                    report = await record_for_class(conn, ClassRef(uai, year, label), start, end, days,
                                                    user.user_id, today=today(), topic=topic)
                    if report.refused:
                        raise _Undo
            except PfmpError as exc:
                flash(request, "error", error_message(exc.code))
                return back
            except _Undo:
                flash(request, "error", _refusals([r.code for r in report.refused], "élève(s)"))
                return back
        log.info("class_pfmp_added", **report.done)
        flash(request, "success", f"PFMP enregistrée pour {report.done.get('recorded', 0)} élève(s).")
        return back

    @router.post("/etablissements/{uai}/annees/{year}/classes/{label}/validation", name="validate_class")
    async def validate_selection(request: Request, uai: Uai, year: int, label: str, user: CurrentUser,
                                 pfmp_ids: Annotated[list[UUID] | None, Form()] = None,
                                 statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        back = RedirectResponse(request.url_for("class_page", uai=uai, year=year, label=label), status_code=303)
        if not pfmp_ids:
            flash(request, "error", "Cochez au moins une PFMP.")
            return back
        settings = request.app.state.pfmp_settings
        async with request.app.state.pool.acquire() as conn:
            for pfmp_id in pfmp_ids:  # every one of this establishment, or the request is not for this page
                if await web_sql.pfmp_in(conn, uai, pfmp_id) is None:
                    raise HTTPException(404)
            try:
                async with conn.transaction():
                    holder = await confirmed_director(conn, uai)
                    if holder != user.user_id:
                        if holder is None and not statement:
                            raise PfmpError("statement_required", "the confirmed director's statement is needed")
                        await confirm_director(conn, uai, user.user_id)
                async with conn.transaction():
                    report = await validate_pfmps(conn, pfmp_ids, user.user_id, today=today(),
                                                  topic=settings.topic(PFMP_EVENTS), require_rib=settings.require_rib)
            except PfmpError as exc:
                flash(request, "error", error_message(exc.code))
                return back
        if report.refused:
            flash(request, "error", _refusals([r.code for r in report.refused], "PFMP"))
            return back
        log.info("class_pfmps_validated", count=len(report.validated))
        flash(request, "success", f"{len(report.validated)} PFMP validée(s) : elles partent en paiement.")
        return back

    return router
