"""Edit and delete one PFMP from the web (pfmp's edit_pfmp and delete_pfmp, audited with the user's id).

Pending and completed PFMPs: any staff of the establishment. A validated or rectified PFMP moves money (its
edit is re-evaluated or goes through a rectification): only the establishment's confirmed director, checked
here on the server whatever the page showed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import structlog
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_servicekit.record_size import RecordTooLarge
from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import web_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.access import confirmed_director
from aplypro_pfmp.service_layer.lifecycle import EditPfmp, delete_pfmp, edit_pfmp

from .labels import error_message
from .rendering import flash, render
from .security import User, current_user, staff_of

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]
MONEY_STATES = frozenset({"validated", "rectified"})


async def _scoped(request: Request, uai: str, pfmp_id: UUID, user: User) -> tuple[web_sql.PfmpRow, UUID]:
    """The PFMP of this establishment and its student, or 404; 403 when its state needs the confirmed director."""
    staff_of(user, uai)
    async with request.app.state.pool.acquire() as conn:
        pfmp = await web_sql.pfmp_in(conn, uai, pfmp_id)
        if pfmp is None:
            raise HTTPException(404)
        if pfmp.status in MONEY_STATES and await confirmed_director(conn, uai) != user.user_id:
            raise HTTPException(403, "Cette PFMP est validée : seul le directeur confirmé peut la modifier.")
        student_id: UUID = await conn.fetchval("SELECT student_id FROM pfmps WHERE pfmp_id = $1", pfmp_id)
    return pfmp, student_id


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/etablissements/{uai}/pfmps/{pfmp_id}/modification", name="edit_pfmp_page")
    async def edit_page(request: Request, uai: Uai, pfmp_id: UUID, user: CurrentUser) -> Response:
        pfmp, student_id = await _scoped(request, uai, pfmp_id, user)
        return render(request, "pfmp_edit.html", {"title": "Modifier une PFMP", "uai": uai, "pfmp": pfmp,
                                                  "student_id": student_id})

    @router.post("/etablissements/{uai}/pfmps/{pfmp_id}/modification", name="edit_pfmp")
    async def edit(request: Request, uai: Uai, pfmp_id: UUID, user: CurrentUser,
                   start_date: Annotated[str, Form()] = "", end_date: Annotated[str, Form()] = "",
                   day_count: Annotated[str, Form()] = "") -> Response:
        _, student_id = await _scoped(request, uai, pfmp_id, user)
        back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
        try:
            start, end = date.fromisoformat(start_date), date.fromisoformat(end_date)
            days = int(day_count) if day_count.strip() else None
        except ValueError:
            flash(request, "error", error_message("invalid_form"))
            return RedirectResponse(request.url_for("edit_pfmp_page", uai=uai, pfmp_id=pfmp_id), status_code=303)
        command = EditPfmp(pfmp_id, user.user_id, start, end, days, clear_day_count=days is None)
        async with request.app.state.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    edited = await edit_pfmp(conn, command,
                                             topic=request.app.state.pfmp_settings.topic(PFMP_EVENTS))
            except (PfmpError, RecordTooLarge) as exc:
                flash(request, "error", error_message(exc.code))
                return RedirectResponse(request.url_for("edit_pfmp_page", uai=uai, pfmp_id=pfmp_id),
                                        status_code=303)
        log.info("pfmp_edited", pfmp_id=str(pfmp_id), path=edited.path and edited.path.value)
        flash(request, "success", "La PFMP est modifiée." if edited.path else "Rien n'a changé.")
        return back

    @router.post("/etablissements/{uai}/pfmps/{pfmp_id}/suppression", name="delete_pfmp")
    async def delete(request: Request, uai: Uai, pfmp_id: UUID, user: CurrentUser) -> Response:
        _, student_id = await _scoped(request, uai, pfmp_id, user)
        back = RedirectResponse(request.url_for("student_page", uai=uai, student_id=student_id), status_code=303)
        async with request.app.state.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    await delete_pfmp(conn, pfmp_id, user.user_id,
                                      topic=request.app.state.pfmp_settings.topic(PFMP_EVENTS))
            except (PfmpError, RecordTooLarge) as exc:
                flash(request, "error", error_message(exc.code))
                return back
        log.info("pfmp_deleted", pfmp_id=str(pfmp_id))
        flash(request, "success", "La PFMP est supprimée.")
        return back

    return router
