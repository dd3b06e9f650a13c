"""Access management (features.md §1): a director of the establishment invites staff by e-mail and revokes
them. An invited identity is authorised staff of the establishment from its next login (roles are read at
every login); a revoked one loses it at its next login. Directors only, checked on the server; the e-mail goes
in the POST body, never in a URL or a log (the revocation names the invitation's id)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import invitations_sql
from aplypro_pfmp.domain.invitations import InvitationError, normalise_email

from .rendering import flash, render
from .security import User, current_user, director_of

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]
REFUSALS = {
    "invalid_email": "Saisissez une adresse électronique valide (par exemple prenom.nom@ac-exemple.fr).",
    "already_invited": "Cette personne est déjà invitée dans l'établissement.",
}


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/etablissements/{uai}/personnels", name="staff_page")
    async def staff_page(request: Request, uai: Uai, user: CurrentUser) -> Response:
        director_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            invitations = await invitations_sql.of_establishment(conn, uai)
        return render(request, "staff.html", {"title": "Personnels autorisés", "uai": uai,
                                              "invitations": invitations})

    @router.post("/etablissements/{uai}/personnels", name="invite_staff")
    async def invite(request: Request, uai: Uai, user: CurrentUser,
                     email: Annotated[str, Form()] = "") -> Response:
        director_of(user, uai)
        back = RedirectResponse(request.url_for("staff_page", uai=uai), status_code=303)
        try:
            address = normalise_email(email)
            async with request.app.state.pool.acquire() as conn:
                invitation_id = await invitations_sql.invite(conn, uai, address, user.user_id)
            if invitation_id is None:
                raise InvitationError("already_invited", "a live invitation exists")
        except InvitationError as exc:
            log.info("staff_invitation_refused", code=exc.code)
            flash(request, "error", REFUSALS[exc.code])
            return back
        log.info("staff_invited", invitation_id=str(invitation_id))
        flash(request, "success", "L'invitation est enregistrée : la personne aura accès à l'établissement à sa "
                                  "prochaine connexion, avec cette adresse électronique.")
        return back

    @router.post("/etablissements/{uai}/personnels/{invitation_id}/revocation", name="revoke_staff")
    async def revoke(request: Request, uai: Uai, invitation_id: UUID, user: CurrentUser) -> Response:
        director_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            if not await invitations_sql.revoke(conn, uai, invitation_id, user.user_id):
                raise HTTPException(404)
        log.info("staff_revoked", invitation_id=str(invitation_id))
        flash(request, "success", "L'accès est retiré : il cessera à la prochaine connexion de la personne.")
        return RedirectResponse(request.url_for("staff_page", uai=uai), status_code=303)

    return router
