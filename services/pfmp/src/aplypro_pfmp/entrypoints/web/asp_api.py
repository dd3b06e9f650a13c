"""The JSON API of the ASP agents' pages (`/api/v1/asp/...`): the same search and dossier as asp_pages, the
same session and guards. 401 without a session (403 for the POST: its CSRF check comes first), 403 for anyone
who is not an ASP agent, 404 for a dossier this session's searches did not find. The DA number travels in the POST body, never in a URL; the search needs the
page's CSRF token in the `X-CSRF-Token` header like every unsafe request. The PDFs themselves are downloaded
from the pages' `/asp/documents/{document_id}` (same scope). An agent asks for a found dossier's état liquidatif (202, or 409
with the refusal's code when there is nothing to print).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .asp_liquidation import ask, found_only, refusal
from .asp_pages import ASP_KINDS, REQUEST_STATUS, found_dossier, liquidation_asked_at, normalised, search
from .labels import PFMP_STATUS
from .role_guards import asp_agent, asp_user
from .security import User, current_user

CurrentUser = Annotated[User, Depends(current_user)]
SCOPE: dict[int | str, dict[str, Any]] = {401: {"description": "no session"},
                                          403: {"description": "not an ASP agent, or no CSRF token"}}


class SearchIn(BaseModel):
    number: str = Field(description="A DA number of any version (18 or 19 letters and digits; blanks ignored)")


class SearchOut(BaseModel):
    schooling_id: UUID = Field(description="The dossier, now open to this session")


class DossierPfmpOut(BaseModel):
    rank: int
    start_date: date
    end_date: date
    day_count: int | None
    amount_cents: int | None
    status: str
    status_label: str
    request_state: str | None
    request_label: str | None = Field(description="The payment request's state as schools read it (features.md §3)")


class DossierDocumentOut(BaseModel):
    document_id: UUID
    kind: str = Field(description="attribution or liquidation")
    kind_label: str
    number: str
    version: int
    size_bytes: int
    download_path: str = Field(description="The PDF, for this session only")


class DossierOut(BaseModel):
    schooling_id: UUID
    last_name: str
    first_names: list[str]
    uai: str
    school_year: int
    class_label: str | None
    start_date: date
    end_date: date | None
    pfmps: list[DossierPfmpOut]
    documents: list[DossierDocumentOut]


class LiquidationAskedOut(BaseModel):
    schooling_id: UUID
    requested_at: datetime = Field(description="When it was asked (the audit record), Europe/Paris")


class RefusalOut(BaseModel):
    detail: str = Field(description="A stable code: missing_attributive_decision, decision_already_withdrawn, "
                                    "no_payment_request, unknown_schooling")
    message: str = Field(description="What it means and what to do, in French")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/asp", tags=["asp"], dependencies=[Depends(asp_user)])

    @router.post("/recherche", response_model=SearchOut,
                 responses={**SCOPE, 404: {"description": "no dossier holds this number"},
                            422: {"description": "not a DA number"}})
    async def find(request: Request, body: SearchIn, user: CurrentUser) -> SearchOut:
        """Find the dossier holding a DA number; the session may then open it."""
        asp_agent(user)
        wanted = normalised(body.number)
        if wanted is None:
            raise HTTPException(422)
        schooling_id = await search(request, wanted)
        if schooling_id is None:
            raise HTTPException(404)
        return SearchOut(schooling_id=UUID(schooling_id))

    @router.get("/dossiers/{schooling_id}", response_model=DossierOut,
                responses={**SCOPE, 404: {"description": "not found by this session's searches"}})
    async def dossier(request: Request, schooling_id: UUID, user: CurrentUser) -> DossierOut:
        """A dossier this session found: the schooling, its PFMPs with their amounts and latest payment
        request's state, and its DAs and états liquidatifs."""
        asp_agent(user)
        found, pfmps, docs = await found_dossier(request, schooling_id)
        return DossierOut(
            **found._asdict(),
            pfmps=[DossierPfmpOut(**p._asdict(), status_label=PFMP_STATUS.get(p.status, (p.status, ""))[0],
                                  request_label=REQUEST_STATUS.get(p.request_state or "")) for p in pfmps],
            documents=[DossierDocumentOut(
                document_id=d["document_id"], kind=d["kind"], kind_label=ASP_KINDS[d["kind"]], number=d["number"],
                version=d["version"], size_bytes=d["size_bytes"],
                download_path=request.url_for("asp_document", document_id=d["document_id"]).path) for d in docs])

    @router.post("/dossiers/{schooling_id}/etats-liquidatifs", status_code=202, response_model=LiquidationAskedOut,
                 responses={**SCOPE, 404: {"description": "not found by this session's searches"},
                            409: {"model": RefusalOut, "description": "refused: nothing to print"}})
    async def request_liquidation(request: Request, schooling_id: UUID, user: CurrentUser) -> Any:
        """Generate or regenerate the dossier's état liquidatif: asked of the documents service, audited. It
        appears among the dossier's documents once issued; one whose content has not changed keeps its version."""
        asp_agent(user)
        found_only(request, schooling_id)
        refused = await ask(request, user, schooling_id)
        if refused is not None:
            return JSONResponse(RefusalOut(detail=refused, message=refusal(refused)).model_dump(), status_code=409)
        at = await liquidation_asked_at(request, schooling_id)
        assert at is not None  # just audited in the committed transaction
        return LiquidationAskedOut(schooling_id=schooling_id, requested_at=at)

    return router
