"""The JSON API of the ASP agents' pages (`/api/v1/asp/...`): the same search and dossier as asp_pages, the
same session and guards. 401 without a session (403 for the POST: its CSRF check comes first), 403 for anyone
who is not an ASP agent, 404 for a dossier this session's searches did not find. The DA number travels in the POST body, never in a URL; the search needs the
page's CSRF token in the `X-CSRF-Token` header like every unsafe request. The PDFs themselves are downloaded
from the pages' `/asp/documents/{document_id}` (same scope).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from .asp_pages import ASP_KINDS, REQUEST_STATUS, found_dossier, normalised, search
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

    return router
