"""Hide a registered student who never came from a class (*Masquer l'élève de la classe*) and reintegrate them
(features.md §2, any staff of the establishment, checked here on the server: the existing system guarded it
only in the interface). The fact belongs to the students service: the change goes through its API, then its
answer (with the event's version) is applied to pfmp's projection at once, so the next page shows it; the
SchoolingHiddenChanged event that follows is then a no-op."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import hidden_sql, web_students_sql

from .pages import today
from .rendering import flash, render
from .rib_labels import rib_error
from .security import User, current_user, staff_of
from .students_api import HideRefused, StudentsApiUnavailable, set_hidden

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]
REFUSALS = {"schooling.other_open": "L'élève a une autre scolarité en cours : il ne peut pas être réintégré dans "
                                    "cette classe tant qu'elle est ouverte."}


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/etablissements/{uai}/annees/{year}/classes/{label}/masquage", name="hidden_page")
    async def page(request: Request, uai: Uai, year: int, label: str, user: CurrentUser) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            schoolings = await web_students_sql.class_schoolings(conn, uai, year, label, today())
        if not schoolings:
            raise HTTPException(404)
        return render(request, "hidden.html", {"title": f"Élèves masqués — classe {label}", "uai": uai,
                                               "year": year, "label": label, "schoolings": schoolings})

    @router.post("/etablissements/{uai}/scolarites/{schooling_id}/masquage", name="set_hidden")
    async def change(request: Request, uai: Uai, schooling_id: UUID, user: CurrentUser,
                     hidden: Annotated[str, Form(pattern="^[01]$")] = "1") -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            found = await web_students_sql.schooling_class(conn, uai, schooling_id)
        if found is None:
            raise HTTPException(404)
        year, label = found
        back = RedirectResponse(request.url_for("hidden_page", uai=uai, year=year, label=label), status_code=303)
        try:
            state = await set_hidden(request.app.state.web_settings, uai, schooling_id, hidden == "1", user.user_id)
        except HideRefused as exc:
            flash(request, "error", REFUSALS.get(exc.code, f"Changement refusé ({exc.code})."))
            return back
        except StudentsApiUnavailable as exc:
            flash(request, "error", rib_error(exc.code))
            return back
        if state is None:  # not (yet) known there: the same answer as another establishment's schooling
            raise HTTPException(404)
        async with request.app.state.pool.acquire() as conn:
            await hidden_sql.apply_hidden(conn, schooling_id, state.hidden, state.version)
        log.info("schooling_hidden_changed", schooling_id=str(schooling_id), hidden=state.hidden,
                 changed=state.changed)
        flash(request, "success", "L'élève est masqué de la classe." if state.hidden
              else "L'élève est réintégré dans la classe.")
        return back

    return router
