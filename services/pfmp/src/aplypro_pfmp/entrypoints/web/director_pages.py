"""The confirmed director's decision and payment actions from the student page: withdraw a DA (retrait, after
a confirmation page), set, change or remove a schooling's report, relaunch a rejected or unpaid payment
request, retry a blocked one ("retenter": evaluated again once the data is fixed). Rectifying a paid PFMP is the PFMP edit (pfmp_pages), which the same rule guards.

Every route checks on the server: staff of another establishment get 404 (no hint that the student
exists), staff who are not the establishment's director 403, and a director who is not the confirmed one
ticks the statement first (or gets 403 when another director is confirmed). Each action is audited with the
user id by its use case; a refusal says why in French.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import structlog
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_servicekit.db import Connection
from aplypro_servicekit.record_size import RecordTooLarge
from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import web_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.access import confirm_director, confirmed_director
from aplypro_pfmp.service_layer.decisions import WITHDRAWAL_REASONS, WithdrawDecision
from aplypro_pfmp.service_layer.director_actions import (
    RELAUNCH_REASONS,
    RelaunchPayment,
    RetryBlockedPayment,
    relaunch_payment,
    retry_blocked_payment,
    withdraw_decision,
)
from aplypro_pfmp.service_layer.reports import SetReport, set_report

from . import pages
from .labels import error_message
from .rendering import flash, render, templates
from .security import User, current_user, director_of

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]

WITHDRAWAL_LABELS = {
    "never_attended": "L'élève n'est jamais venu en cours",
    "never_enrolled": "L'élève n'a jamais été inscrit dans l'établissement",
    "apprentice": "L'élève est apprenti",
    "not_eligible": "L'élève n'est pas éligible à l'allocation",
}
RELAUNCH_LABELS = {
    "bank_details_corrected": "Les coordonnées bancaires ont été corrigées",
    "student_data_corrected": "Les données de l'élève ont été corrigées",
    "asp_instructions_followed": "Les instructions de l'ASP ont été suivies",
}
templates.env.globals["RELAUNCH_LABELS"] = {code: RELAUNCH_LABELS[code] for code in RELAUNCH_REASONS}

# The refusals of these actions, in French with what to do (the use cases' stable codes).
REFUSALS = {
    "decision_already_withdrawn": "Cette décision d'attribution est déjà retirée.",
    "attributive_decision_abrogated": "Cette décision d'attribution est abrogée : elle ne peut plus être retirée "
                                      "ni reportée.",
    "missing_attributive_decision": "La scolarité n'a pas de décision d'attribution en vigueur : éditez-la d'abord.",
    "withdrawal_already_requested": "Le retrait de cette décision est déjà demandé : il sera édité sous peu.",
    "not_latest_request": "Cette demande n'est plus la dernière de la PFMP : rechargez la page.",
    "not_relaunchable": "Seule une demande rejetée ou dont le paiement a échoué peut être relancée.",
    "already_relaunched": "Cette demande est déjà relancée : la nouvelle demande apparaîtra sous peu.",
    "not_retriable": "Seule une demande bloquée peut être retentée : rechargez la page pour voir son état.",
    "schooling_open": "Seule une scolarité terminée (avec une date de fin) peut recevoir un report.",
    "schooling_in_current_year": "Le report concerne une scolarité d'une année scolaire passée, pas de l'année en "
                                 "cours.",
    "report_not_after_end": "La date de report doit être postérieure à la date de fin de la scolarité.",
    "report_before_pfmp": "La date de report doit être postérieure à la fin de chaque PFMP de la scolarité.",
    "report_in_use": "Une PFMP se termine après la fin de la scolarité : déplacez-la ou supprimez-la avant de "
                     "retirer le report.",
    "no_report": "Cette scolarité n'a pas de report à retirer.",
    "other_director_confirmed": "Un autre chef d'établissement est directeur confirmé de cet établissement : lui "
                                "seul peut faire cette action.",
}
STATEMENT = "statement_required"


def refusal(code: str) -> str:
    return REFUSALS.get(code) or error_message(code)


def today(request: Request) -> date:
    """The French calendar day; tests put their own clock in app.state.today."""
    clock = getattr(request.app.state, "today", None) or pages.today
    value: date = clock()
    return value


async def _student_schooling(request: Request, uai: str, student_id: UUID, schooling_id: str) -> UUID:
    """The schooling, if it is this student's in this establishment; 404 otherwise."""
    async with request.app.state.pool.acquire() as conn:
        student = await web_sql.student(conn, uai, student_id)
    try:
        wanted = UUID(schooling_id)
    except ValueError:
        raise HTTPException(404) from None
    if student is None or wanted not in {s[0] for s in student.schoolings}:
        raise HTTPException(404)
    return wanted


async def _confirm(conn: Connection, uai: str, user: User, statement: str) -> None:
    """The user is (or becomes, by ticking the statement) the establishment's confirmed director."""
    holder = await confirmed_director(conn, uai)
    if holder == user.user_id:
        return
    if holder is not None:
        raise HTTPException(403, refusal("other_director_confirmed"))
    if not statement:
        raise PfmpError(STATEMENT, "the confirmed director's statement is needed")
    await confirm_director(conn, uai, user.user_id)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/etablissements/{uai}/eleves/{student_id}/retrait", name="withdraw_page")
    async def withdraw_page(request: Request, uai: Uai, student_id: UUID, user: CurrentUser,
                            scolarite: str = "") -> Response:
        director_of(user, uai)
        schooling_id = await _student_schooling(request, uai, student_id, scolarite)
        async with request.app.state.pool.acquire() as conn:
            holder = await confirmed_director(conn, uai)
        if holder is not None and holder != user.user_id:
            raise HTTPException(403, refusal("other_director_confirmed"))
        return render(request, "withdrawal_confirm.html", {
            "title": "Retirer la décision d'attribution", "uai": uai, "student_id": student_id,
            "schooling_id": schooling_id, "reasons": WITHDRAWAL_LABELS, "confirmed": holder == user.user_id})

    @router.post("/etablissements/{uai}/eleves/{student_id}/retrait", name="withdraw_decision")
    async def withdraw(request: Request, uai: Uai, student_id: UUID, user: CurrentUser,
                       schooling_id: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                       confirmation: Annotated[str, Form()] = "", statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        schooling = await _student_schooling(request, uai, student_id, schooling_id)
        back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
        confirm_page = RedirectResponse(str(request.url_for("withdraw_page", uai=uai, student_id=student_id))
                                        + f"?scolarite={schooling}", status_code=303)
        if confirmation != "oui" or reason not in WITHDRAWAL_REASONS:
            # The confirmation step: nothing is withdrawn until the page's box is ticked and a reason chosen.
            flash(request, "error", "Choisissez le motif et cochez la confirmation pour retirer la décision.")
            return confirm_page
        async with request.app.state.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    await _confirm(conn, uai, user, statement)
                    await withdraw_decision(conn, WithdrawDecision(schooling, reason, user.user_id),  # type: ignore[arg-type]
                                            topic=request.app.state.pfmp_settings.topic(PFMP_EVENTS))
            except (PfmpError, RecordTooLarge) as exc:
                flash(request, "error", refusal(exc.code))
                return confirm_page if exc.code == STATEMENT else back
        flash(request, "success", "Le retrait est demandé : la décision de retrait sera éditée, et les PFMP déjà "
                                  "payées de cette scolarité seront rectifiées à 0.")
        return back

    @router.post("/etablissements/{uai}/eleves/{student_id}/report", name="set_report")
    async def report(request: Request, uai: Uai, student_id: UUID, user: CurrentUser,
                     schooling_id: Annotated[str, Form()] = "", extended_end_date: Annotated[str, Form()] = "",
                     remove: Annotated[str, Form()] = "", statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        schooling = await _student_schooling(request, uai, student_id, schooling_id)
        back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
        try:
            new_date = None if remove else date.fromisoformat(extended_end_date)
        except ValueError:
            flash(request, "error", "Saisissez la date de report.")
            return back
        async with request.app.state.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    await _confirm(conn, uai, user, statement)
                    done = await set_report(conn, SetReport(schooling, new_date, user.user_id), today=today(request),
                                            topic=request.app.state.pfmp_settings.topic(PFMP_EVENTS))
            except (PfmpError, RecordTooLarge) as exc:
                flash(request, "error", refusal(exc.code))
                return back
        flash(request, "success", "Rien n'a changé." if not done.changed else "Le report est retiré."
              if new_date is None else f"Date de report : {new_date:%d/%m/%Y}.")
        return back

    @router.post("/etablissements/{uai}/pfmps/{pfmp_id}/relance", name="relaunch_payment")
    async def relaunch(request: Request, uai: Uai, pfmp_id: UUID, user: CurrentUser,
                       payment_request_id: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                       statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            if await web_sql.pfmp_in(conn, uai, pfmp_id) is None:
                raise HTTPException(404)
            student_id = await conn.fetchval("SELECT student_id FROM pfmps WHERE pfmp_id = $1", pfmp_id)
            back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
            try:
                request_id = UUID(payment_request_id)
            except ValueError:
                flash(request, "error", error_message("invalid_form"))
                return back
            try:
                async with conn.transaction():
                    await _confirm(conn, uai, user, statement)
                    await relaunch_payment(conn, RelaunchPayment(pfmp_id, request_id, reason, user.user_id),
                                           topic=request.app.state.pfmp_settings.topic(PFMP_EVENTS))
            except (PfmpError, RecordTooLarge) as exc:
                flash(request, "error", refusal(exc.code))
                return back
        flash(request, "success", "La demande est relancée : une nouvelle demande de paiement est créée.")
        return back

    @router.post("/etablissements/{uai}/pfmps/{pfmp_id}/retenter", name="retry_blocked_payment")
    async def retry(request: Request, uai: Uai, pfmp_id: UUID, user: CurrentUser,
                    payment_request_id: Annotated[str, Form()] = "", statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            if await web_sql.pfmp_in(conn, uai, pfmp_id) is None:
                raise HTTPException(404)
            student_id = await conn.fetchval("SELECT student_id FROM pfmps WHERE pfmp_id = $1", pfmp_id)
            back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
            try:
                request_id = UUID(payment_request_id)
            except ValueError:
                flash(request, "error", error_message("invalid_form"))
                return back
            try:
                async with conn.transaction():
                    await _confirm(conn, uai, user, statement)
                    await retry_blocked_payment(conn, RetryBlockedPayment(pfmp_id, request_id, user.user_id),
                                                topic=request.app.state.pfmp_settings.topic(PFMP_EVENTS))
            except (PfmpError, RecordTooLarge) as exc:
                flash(request, "error", refusal(exc.code))
                return back
        flash(request, "success", "La demande va être évaluée de nouveau avec les données à jour : rechargez la page "
                                  "dans quelques instants pour voir son état.")
        return back

    return router

