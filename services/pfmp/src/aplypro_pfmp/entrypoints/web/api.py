"""The JSON API beside the pages (`/api/v1`), with the same session and the same server-side guards; its
OpenAPI document is published as docs/web-api.openapi.json (`aplypro-pfmp openapi`, drift-tested), built from
every `/api/` route of the assembled application (this module's and academic_api's).

Here: a student's PFMPs, what a page refreshes without reloading; the establishment's payment requests to act on
(the payments page's rows).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from pydantic import BaseModel

from aplypro_pfmp.adapters import web_sql

from . import payments_pages
from .labels import PFMP_STATUS
from .school_year import chosen_year
from .security import User, current_user, staff_of

Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$", description="Establishment UAI")]
CurrentUser = Annotated[User, Depends(current_user)]


class PfmpOut(BaseModel):
    pfmp_id: UUID
    start_date: date
    end_date: date
    day_count: int | None
    status: str
    status_label: str  # the French label schools see (features.md §3)
    read_only: bool  # a PFMP of another establishment


class ReasonOut(BaseModel):
    key: str  # the shared catalog's stable key
    blocks: str  # what blocks, in French
    todo: str  # what to do, in French


class TroubledRequestOut(BaseModel):
    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    last_name: str
    first_names: list[str]
    class_label: str | None
    start_date: date
    end_date: date
    state: str  # incomplete, rejected or unpaid (lifecycles.md §2)
    state_label: str  # Bloquée, Demande rejetée, Paiement échoué (features.md §3)
    amount_cents: int | None
    reasons: list[ReasonOut]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["pfmp"])

    @router.get("/etablissements/{uai}/eleves/{student_id}/pfmps", response_model=list[PfmpOut],
                responses={403: {"description": "not staff of an establishment"},
                           404: {"description": "no such student in this establishment"}})
    async def student_pfmps(request: Request, uai: Uai, student_id: UUID, user: CurrentUser) -> list[PfmpOut]:
        """Every live PFMP of a student of the establishment (other establishments' ones read-only)."""
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            if await web_sql.student(conn, uai, student_id) is None:
                raise HTTPException(404)
            rows = await web_sql.pfmps_of_student(conn, student_id)
        return [PfmpOut(pfmp_id=r.pfmp_id, start_date=r.start_date, end_date=r.end_date, day_count=r.day_count,
                        status=r.status, status_label=PFMP_STATUS.get(r.status, (r.status, ""))[0],
                        read_only=r.uai != uai) for r in rows]

    @router.get("/etablissements/{uai}/paiements", response_model=list[TroubledRequestOut],
                responses={403: {"description": "not staff of an establishment"},
                           404: {"description": "not staff of this establishment"}})
    async def troubled_payments(request: Request, uai: Uai, user: CurrentUser,
                                annee: int | None = None) -> list[TroubledRequestOut]:
        """The school year's PFMPs whose latest payment request is blocked, rejected or unpaid, each reason in
        French with what to do (the payments page); the year as the pages choose it when `annee` is absent."""
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            _, year = await chosen_year(request, conn, uai, annee)
            rows = [] if year is None else await payments_pages.troubled(conn, uai, year)
        return [TroubledRequestOut(
            payment_request_id=r.payment_request_id, pfmp_id=r.pfmp_id, student_id=r.student_id,
            last_name=r.last_name, first_names=r.first_names,
            class_label=r.class_label, start_date=r.start_date, end_date=r.end_date, state=r.state,
            state_label=r.label, amount_cents=r.amount_cents,
            reasons=[ReasonOut(key=k, blocks=w.blocks, todo=w.todo) for k, w in r.reasons]) for r in rows]

    return router


def api_routers(app: FastAPI) -> list[APIRouter]:
    """The routers of the application that serve `/api/...` (a router mixing pages and JSON is refused: the
    document would then describe pages)."""
    found: list[APIRouter] = []
    for route in app.routes:
        router = getattr(route, "original_router", None)
        if not isinstance(router, APIRouter):
            continue
        paths = [getattr(r, "path", "") for r in router.routes]
        if any(p.startswith("/api/") for p in paths):
            if not all(p.startswith("/api/") for p in paths):
                raise ValueError("a router mixes /api/ routes and pages: split it")
            found.append(router)
    return found


def openapi_document(app: FastAPI | None = None) -> str:
    """The OpenAPI document of the JSON API, from the routers the assembled application serves under `/api/`
    (the pages are HTML, not part of it): what is published is what the application serves."""
    if app is None:
        from .app import create_app  # here: app.py imports this module

        app = create_app()
    document = FastAPI(title="APLyPro web API", version="1.0.0",
                       description="JSON API of the schools' web application; session cookie from the OIDC login.")
    for router in api_routers(app):
        document.include_router(router)
    spec: dict[str, Any] = document.openapi()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
