"""The JSON API beside the pages (`/api/v1`), with the same session and the same server-side guards; its
OpenAPI document is published as docs/web-api.openapi.json (`aplypro-pfmp openapi`, drift-tested).

First slice: a student's PFMPs, what a page refreshes without reloading.
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


def openapi_document() -> str:
    """The OpenAPI document of the JSON API alone (the pages are HTML, not part of it)."""
    app = FastAPI(title="APLyPro web API", version="1.0.0",
                  description="JSON API of the schools' web application; session cookie from the OIDC login.")
    app.include_router(build_router())
    spec: dict[str, Any] = app.openapi()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
