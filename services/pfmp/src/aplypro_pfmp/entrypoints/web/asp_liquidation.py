"""ASP agents generate or regenerate the état liquidatif of a dossier from its page (features.md §2, ASP row):
only a dossier this session's searches found (404 for any other, as its page), an ASP agent only (403), the
session's CSRF token (app-wide). The command goes to documents as a versioned event (service_layer.
liquidation_requests), audited; the page after the POST says what was asked and shows it as asked (the audit
row) before documents has answered. The JSON API (asp_api) asks through `ask` too.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aplypro_servicekit.record_size import RecordTooLarge
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.liquidation_requests import RequestLiquidation, request_liquidation

from .asp_pages import found_dossiers
from .decision_pages import topic
from .rendering import flash
from .role_guards import asp_agent
from .security import User, current_user

CurrentUser = Annotated[User, Depends(current_user)]
REFUSALS = {
    "decision_already_withdrawn": "La décision d'attribution de ce dossier est retirée : aucun état liquidatif "
                                  "n'est édité pour elle.",
    "missing_attributive_decision": "Ce dossier n'a pas encore de décision d'attribution : il n'a pas d'état "
                                    "liquidatif. Réessayez quand l'établissement l'aura éditée.",
    "no_payment_request": "Aucune PFMP de ce dossier n'a encore de demande de paiement : il n'y a pas d'état "
                          "liquidatif à éditer.",
    "unknown_schooling": "Ce dossier n'est pas encore connu ici : réessayez dans quelques minutes.",
}
ASKED = ("La génération de l'état liquidatif est demandée : il apparaîtra parmi les documents dans quelques "
         "instants (rechargez la page). S'il n'a pas changé, il garde sa version.")


def found_only(request: Request, schooling_id: UUID) -> None:
    """404 for a dossier this session's searches did not find (no hint that it exists)."""
    if str(schooling_id) not in found_dossiers(request):
        raise HTTPException(404)


async def ask(request: Request, user: User, schooling_id: UUID) -> str | None:
    """Ask documents for the dossier's état liquidatif; None when asked, else the refusal's code."""
    async with request.app.state.pool.acquire() as conn:
        try:
            async with conn.transaction():  # the outbox row and the audit row together
                await request_liquidation(conn, RequestLiquidation(schooling_id, user.user_id), topic=topic(request))
        except (PfmpError, RecordTooLarge) as exc:
            return exc.code
    return None


def refusal(code: str) -> str:
    return REFUSALS.get(code, "La demande n'a pas pu être enregistrée : réessayez dans quelques minutes.")


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/asp/dossiers/{schooling_id}/etats-liquidatifs", name="asp_request_liquidation")
    async def request_page(request: Request, schooling_id: UUID, user: CurrentUser) -> Response:
        asp_agent(user)
        found_only(request, schooling_id)
        refused = await ask(request, user, schooling_id)
        flash(request, "error" if refused else "success", refusal(refused) if refused else ASKED)
        return RedirectResponse(request.url_for("asp_dossier", schooling_id=schooling_id), status_code=303)

    return router
