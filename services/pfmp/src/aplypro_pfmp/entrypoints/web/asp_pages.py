"""ASP agents' pages (features.md §1, documents.md §7): find a dossier by a DA number of any version, see
it, download its DA and états liquidatifs, ask for its état liquidatif to be generated or regenerated
(asp_liquidation). Nothing else: every other page answers them 403.

A dossier is reachable only after this session's search found it (the session keeps the schooling ids
found): an agent cannot walk dossiers by id. URLs carry internal ids, never the DA number (the search is a
POST).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, NamedTuple
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from aplypro_pfmp.adapters import dossier_sql
from aplypro_pfmp.service_layer import liquidation_requests

from .documents_client import DocumentNotFound, DocumentsClient
from .rendering import flash, render
from .role_guards import PARIS, asp_agent
from .security import User, current_user

log = structlog.get_logger(__name__)
CurrentUser = Annotated[User, Depends(current_user)]
DA_NUMBER = re.compile(r"^[A-Z0-9]{18,19}$")  # features.md §5: a DA number has 18 or 19 characters
FOUND_KEY, FOUND_MAX = "asp_dossiers", 50
ASP_KINDS = {"attribution": "Décision d'attribution", "liquidation": "État liquidatif"}
REQUEST_STATUS = {  # features.md §3
    "pending": "En attente", "ready": "En attente", "incomplete": "Bloquée", "sent": "En traitement",
    "integrated": "En traitement", "rejected": "Demande rejetée", "paid": "Paiement envoyé",
    "unpaid": "Paiement échoué",
}


def found_dossiers(request: Request) -> list[str]:
    """The schooling ids this session's searches found, most recent first: the only dossiers it may open."""
    value = request.session.get(FOUND_KEY)
    return [str(v) for v in value] if isinstance(value, list) else []


def documents(request: Request) -> DocumentsClient:
    client: DocumentsClient = request.app.state.documents
    return client


def normalised(number: str) -> str | None:
    """The DA number without blanks, upper case; None when it cannot be one (nothing is asked then)."""
    wanted = re.sub(r"\s+", "", number).upper()
    return wanted if DA_NUMBER.fullmatch(wanted) else None


async def search(request: Request, wanted: str) -> str | None:
    """The schooling id of the dossier holding this DA number (any version), remembered in the session so the
    agent may open it; None when no dossier holds it. The number itself is never logged."""
    found = await documents(request).by_number(wanted)
    if not found:
        log.info("asp_search", found=0)
        return None
    schooling_id = str(found[0]["schooling_id"])
    request.session[FOUND_KEY] = ([schooling_id] + [s for s in found_dossiers(request) if s != schooling_id])[:FOUND_MAX]
    log.info("asp_search", found=1, schooling_id=schooling_id)
    return schooling_id


async def liquidation_asked_at(request: Request, schooling_id: UUID) -> datetime | None:
    """When an ASP agent last asked for the dossier's état liquidatif (asp_liquidation), on the French clock."""
    async with request.app.state.pool.acquire() as conn:
        at = await dossier_sql.liquidation_asked_at(conn, schooling_id, liquidation_requests.ACTION)
    return None if at is None else at.astimezone(PARIS)


class FoundDossier(NamedTuple):
    dossier: dossier_sql.Dossier
    pfmps: list[dossier_sql.DossierPfmp]
    documents: list[dict[str, Any]]  # its DAs and états liquidatifs (ASP_KINDS)


async def found_dossier(request: Request, schooling_id: UUID) -> FoundDossier:
    """A dossier this session's searches found, for its page and its API; 404 for any other."""
    if str(schooling_id) not in found_dossiers(request):
        raise HTTPException(404)
    docs = [d for d in await documents(request).of_schooling(schooling_id) if d["kind"] in ASP_KINDS]
    async with request.app.state.pool.acquire() as conn:
        found = await dossier_sql.dossier(conn, schooling_id)
        pfmps = await dossier_sql.pfmps(conn, schooling_id)
    if found is None:
        raise HTTPException(404)
    return FoundDossier(found, pfmps, docs)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/asp", name="asp_search")
    async def search_page(request: Request, user: CurrentUser) -> Response:
        asp_agent(user)
        return render(request, "asp_search.html", {"title": "Rechercher un dossier"})

    @router.post("/asp/recherche", name="asp_find")
    async def find(request: Request, user: CurrentUser, number: Annotated[str, Form()] = "") -> Response:
        asp_agent(user)
        wanted = normalised(number)
        back = RedirectResponse(request.url_for("asp_search"), status_code=303)
        if wanted is None:
            flash(request, "error", "Un numéro de décision d'attribution a 18 ou 19 caractères, lettres et chiffres "
                                    "(par exemple ENPUK7Q2M9X4TB20251) : vérifiez-le.")
            return back
        schooling_id = await search(request, wanted)
        if schooling_id is None:
            flash(request, "error", "Aucun dossier ne porte ce numéro : vérifiez-le sur la décision d'attribution.")
            return back
        return RedirectResponse(request.url_for("asp_dossier", schooling_id=schooling_id), status_code=303)

    @router.get("/asp/dossiers/{schooling_id}", name="asp_dossier")
    async def dossier(request: Request, schooling_id: UUID, user: CurrentUser) -> Response:
        asp_agent(user)
        found, pfmps, docs = await found_dossier(request, schooling_id)
        numbers = sorted({d["number"] for d in docs if d["kind"] == "attribution"})
        return render(request, "asp_dossier.html", {
            "title": "Dossier", "dossier": found, "pfmps": pfmps, "documents": docs, "kinds": ASP_KINDS,
            "numbers": numbers, "request_status": REQUEST_STATUS,
            "has_liquidation": any(d["kind"] == "liquidation" for d in docs),
            "liquidation_asked_at": await liquidation_asked_at(request, schooling_id)})

    @router.get("/asp/documents/{document_id}", name="asp_document")
    async def document(request: Request, document_id: UUID, user: CurrentUser) -> Response:
        asp_agent(user)
        try:
            pdf = await documents(request).pdf(document_id, audience="asp")
        except DocumentNotFound:
            raise HTTPException(404) from None
        if pdf.kind not in ASP_KINDS or str(pdf.schooling_id) not in found_dossiers(request):
            raise HTTPException(404)
        log.info("asp_document_downloaded", document_id=str(document_id), kind=pdf.kind)
        return Response(pdf.data, media_type="application/pdf",
                        headers={"Content-Disposition": pdf.content_disposition})

    return router
