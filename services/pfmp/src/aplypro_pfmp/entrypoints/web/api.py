"""The JSON API beside the pages (`/api/v1`), with the same session and the same server-side guards; its
OpenAPI document is published as docs/web-api.openapi.json (`aplypro-pfmp openapi`, drift-tested), built from
every `/api/` route of the assembled application (this module's and academic_api's).

Here: a student's PFMPs, what a page refreshes without reloading.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from pydantic import BaseModel

from aplypro_pfmp.adapters import web_sql

from .labels import PFMP_STATUS
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
