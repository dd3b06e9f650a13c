"""The confirmed director's DA commands from the browser (features.md §2, documents.md §5.2 and §6): issue the
missing DAs of a class or of the establishment's year, reissue every DA of the year (after ticking a
confirmation), issue or reissue one schooling's DA and abrogate it (after ticking a confirmation) from the
student page or from the establishment's list of DAs due for abrogation (any staff sees the list). Documents
carries each out under its own rules; the page after the POST says what was asked and
shows it as asked (the audit row), before documents has answered.

Every route checks on the server as director_pages does: staff of another establishment get 404, staff who
are not the establishment's director 403, and the statement makes the director the confirmed one.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_servicekit.db import Connection
from aplypro_servicekit.record_size import RecordTooLarge
from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import decision_content_sql, decisions_sql, web_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.abrogeable import abrogeable_decisions
from aplypro_pfmp.service_layer.access import confirmed_director
from aplypro_pfmp.service_layer.decision_requests import (
    AbrogateDecision,
    IssueDecisions,
    abrogate_decision,
    issue_decisions,
)

from .director_pages import REFUSALS, _confirm, _student_schooling, refusal, today
from .money_view import asked_words
from .rendering import flash, render
from .security import User, current_user, director_of, staff_of

Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]

REFUSALS.update({
    "no_decision_to_missing": "Aucune décision d'attribution manquante : elles sont toutes éditées ou demandées "
                              "(les élèves masqués ne sont pas concernés).",
    "no_decision_to_reissue": "Aucune décision d'attribution à rééditer (une décision abrogée ou retirée ne l'est "
                              "jamais).",
    "decision_already_abrogated": "Cette décision d'attribution est déjà abrogée.",
    "abrogation_schooling_open": "Seule la décision d'une scolarité terminée (date de fin passée) peut être "
                                 "abrogée.",
    "abrogation_not_due": "L'élève n'a pas de scolarité plus récente dans la même année scolaire : la décision "
                          "n'est pas abrogeable.",
    "abrogation_already_requested": "L'abrogation de cette décision est déjà demandée : elle sera éditée sous peu.",
    "confirmation_required": "Cochez la case de confirmation pour continuer.",
})
async def panel(conn: Connection, uai: str, year: int, class_label: str | None, user: User) -> dict[str, Any]:
    """The context of the decisions panel (_decisions_panel.html) of the establishment page or a class page."""
    missing, reissuable = await decisions_sql.counts(conn, uai, year, class_label)
    holder = await confirmed_director(conn, uai)
    return {"da_missing": missing, "da_reissuable": reissuable, "da_class": class_label,
            "da_stale": await decision_content_sql.stale_in_scope(conn, uai, year, class_label),
            "da_asked": asked_words(await decisions_sql.last_asked(conn, uai, year, class_label)),
            "da_can_act": uai in user.roles.director_of and holder in (None, user.user_id),
            "da_confirmed": holder == user.user_id}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


async def _ask(request: Request, uai: str, user: User, statement: str, back: RedirectResponse,
               act: Any) -> tuple[Any, RedirectResponse | None]:
    """Confirm the director and run the command in one transaction; a refusal flashes and returns `back`."""
    async with request.app.state.pool.acquire() as conn:
        try:
            async with conn.transaction():
                await _confirm(conn, uai, user, statement)
                return await act(conn), None
        except (PfmpError, RecordTooLarge) as exc:
            flash(request, "error", refusal(exc.code))
            return None, back


def topic(request: Request) -> str:
    name: str = request.app.state.pfmp_settings.topic(PFMP_EVENTS)
    return name


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/etablissements/{uai}/annees/{year}/decisions/manquantes", name="issue_missing_decisions")
    async def issue_missing(request: Request, uai: Uai, year: int, user: CurrentUser,
                            class_label: Annotated[str, Form()] = "", statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        label = class_label or None
        if label is not None:
            async with request.app.state.pool.acquire() as conn:
                if not await web_sql.students_of_class(conn, uai, year, label, today(request)):
                    raise HTTPException(404)
            target = str(request.url_for("class_page", uai=uai, year=year, label=label))
        else:
            target = str(request.url_for("establishment", uai=uai)) + f"?annee={year}"
        back = RedirectResponse(target, status_code=303)
        command = IssueDecisions(uai, year, "missing", user.user_id, class_label=label)
        count, refused = await _ask(request, uai, user, statement, back,
                                    lambda conn: issue_decisions(conn, command, topic=topic(request)))
        if refused:
            return refused
        flash(request, "success", f"Édition demandée pour {_plural(count, 'décision', 'décisions')} "
                                  "d'attribution manquante(s) : rechargez la page dans quelques instants.")
        return back

    @router.post("/etablissements/{uai}/annees/{year}/decisions/reedition", name="reissue_decisions")
    async def reissue(request: Request, uai: Uai, year: int, user: CurrentUser,
                      confirmation: Annotated[str, Form()] = "", statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        back = RedirectResponse(str(request.url_for("establishment", uai=uai)) + f"?annee={year}", status_code=303)
        if confirmation != "oui":  # every DA of the year: nothing is asked until the box is ticked
            flash(request, "error", refusal("confirmation_required"))
            return back
        command = IssueDecisions(uai, year, "reissue", user.user_id)
        count, refused = await _ask(request, uai, user, statement, back,
                                    lambda conn: issue_decisions(conn, command, topic=topic(request)))
        if refused:
            return refused
        flash(request, "success", f"Réédition demandée pour {_plural(count, 'décision', 'décisions')} "
                                  "d'attribution : une décision dont le contenu n'a pas changé garde sa version.")
        return back

    @router.post("/etablissements/{uai}/eleves/{student_id}/decision", name="issue_student_decision")
    async def issue_one(request: Request, uai: Uai, student_id: UUID, user: CurrentUser,
                        schooling_id: Annotated[str, Form()] = "", mode: Annotated[str, Form()] = "",
                        statement: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        schooling = await _student_schooling(request, uai, student_id, schooling_id)
        back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
        if mode not in ("missing", "reissue"):
            raise HTTPException(422)
        async with request.app.state.pool.acquire() as conn:
            year = await conn.fetchval("SELECT school_year FROM schoolings WHERE schooling_id = $1", schooling)
        command = IssueDecisions(uai, year, mode, user.user_id, schooling_id=schooling)  # type: ignore[arg-type]
        _, refused = await _ask(request, uai, user, statement, back,
                                lambda conn: issue_decisions(conn, command, topic=topic(request)))
        if refused:
            return refused
        flash(request, "success", "L'édition de la décision d'attribution est demandée." if mode == "missing"
              else "La réédition est demandée : si son contenu n'a pas changé, la décision garde sa version.")
        return back

    @router.get("/etablissements/{uai}/decisions/abrogeables", name="abrogeable_decisions")
    async def abrogeable(request: Request, uai: Uai, user: CurrentUser) -> Response:
        """Any staff of the establishment sees the list; only its director gets the abrogate buttons."""
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            due = await abrogeable_decisions(conn, uai, today(request))
            holder = await confirmed_director(conn, uai)
        by_year: dict[int, list[decisions_sql.Candidate]] = {}
        for candidate in due:
            by_year.setdefault(candidate.school_year, []).append(candidate)
        return render(request, "abrogeable.html", {
            "title": "Décisions d'attribution à abroger", "uai": uai, "by_year": by_year,
            "is_director": uai in user.roles.director_of, "confirmed": holder == user.user_id,
            "other_confirmed": holder is not None and holder != user.user_id})

    @router.post("/etablissements/{uai}/eleves/{student_id}/abrogation", name="abrogate_decision")
    async def abrogate(request: Request, uai: Uai, student_id: UUID, user: CurrentUser,
                       schooling_id: Annotated[str, Form()] = "", confirmation: Annotated[str, Form()] = "",
                       statement: Annotated[str, Form()] = "", retour: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        schooling = await _student_schooling(request, uai, student_id, schooling_id)
        # Back to the page the form was on: the list of abrogeable DAs, else the student page (never a URL sent).
        page = (request.url_for("abrogeable_decisions", uai=uai) if retour == "liste"
                else request.url_for("student_page", uai=uai, student_id=student_id))
        back = RedirectResponse(page, status_code=303)
        if confirmation != "oui":  # final: nothing is asked until the box is ticked
            flash(request, "error", refusal("confirmation_required"))
            return back
        day: date = today(request)
        _, refused = await _ask(request, uai, user, statement, back, lambda conn: abrogate_decision(
            conn, AbrogateDecision(schooling, user.user_id), today=day, topic=topic(request)))
        if refused:
            return refused
        flash(request, "success", "L'abrogation est demandée : la décision d'abrogation sera éditée sous peu.")
        return back

    return router
