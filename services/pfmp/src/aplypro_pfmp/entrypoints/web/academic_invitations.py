"""The national admin invites academic users (features.md §1 "Admin", §2 "invite academic users"): an e-mail
for an academy, and revokes it. An invited identity reads that academy from its next login (academies are read
at every login, merged with its `AplyproAcademieResp` codes); a revoked one loses it at its next login. The
national admin only (academy code `*`), checked on the server for every route before any parameter is parsed;
the e-mail goes in the POST body, never in a URL or a log (the revocation names the invitation's id). No
invitation makes a national admin: `*` is refused (domain.invitations.academy_code, and the table's CHECK).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import academic_invitations_sql
from aplypro_pfmp.domain.invitations import InvitationError, academy_code, normalise_email

from .rendering import flash, render
from .role_guards import PARIS, admin_only
from .security import User, current_user

log = structlog.get_logger(__name__)
CurrentUser = Annotated[User, Depends(current_user)]
REFUSALS = {
    "invalid_email": "Saisissez une adresse électronique valide (par exemple prenom.nom@ac-exemple.fr).",
    "invalid_academy": "Choisissez une académie dans la liste.",
    "unknown_academy": "Choisissez une académie dans la liste : aucun établissement connu n'est dans celle-ci.",
    "already_invited": "Cette personne est déjà invitée dans cette académie.",
}


def admin_user(user: User = Depends(current_user)) -> None:  # noqa: B008 (FastAPI's dependency idiom)
    admin_only(user)


def build_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(admin_user)])

    @router.get("/national/academiques", name="academic_invitations")
    async def page(request: Request, user: CurrentUser) -> Response:
        async with request.app.state.pool.acquire() as conn:
            invitations = await academic_invitations_sql.live(conn)
            academies = await academic_invitations_sql.known_academies(conn)
        return render(request, "academic_invitations.html", {
            "title": "Utilisateurs académiques", "academies": academies,
            "invitations": [(i, i.invited_at.astimezone(PARIS)) for i in invitations]})

    @router.post("/national/academiques", name="invite_academic")
    async def invite(request: Request, user: CurrentUser, email: Annotated[str, Form()] = "",
                     academy: Annotated[str, Form()] = "") -> Response:
        back = RedirectResponse(request.url_for("academic_invitations"), status_code=303)
        try:
            address, code = normalise_email(email), academy_code(academy)
            async with request.app.state.pool.acquire() as conn:
                if code not in await academic_invitations_sql.known_academies(conn):
                    raise InvitationError("unknown_academy", "no known establishment in this academy")
                invitation_id = await academic_invitations_sql.invite(conn, code, address, user.user_id)
            if invitation_id is None:
                raise InvitationError("already_invited", "a live invitation exists")
        except InvitationError as exc:
            log.info("academic_invitation_refused", code=exc.code)
            flash(request, "error", REFUSALS[exc.code])
            return back
        log.info("academic_invited", invitation_id=str(invitation_id), academy=code)
        flash(request, "success", f"L'invitation est enregistrée : la personne aura accès à l'académie {code} à sa "
                                  "prochaine connexion, avec cette adresse électronique.")
        return back

    @router.post("/national/academiques/{invitation_id}/revocation", name="revoke_academic")
    async def revoke(request: Request, invitation_id: UUID, user: CurrentUser) -> Response:
        async with request.app.state.pool.acquire() as conn:
            if not await academic_invitations_sql.revoke(conn, invitation_id, user.user_id):
                raise HTTPException(404)
        log.info("academic_revoked", invitation_id=str(invitation_id))
        flash(request, "success", "L'accès est retiré : il cessera à la prochaine connexion de la personne.")
        return RedirectResponse(request.url_for("academic_invitations"), status_code=303)

    return router
