"""The students service's internal HTTP API (`aplypro-students api`): what the schools' web application
writes here, RIBs first. Not public: every call carries the shared service token; the web application has
already checked the user's role and establishment, and sends the user's id for the audit trail.

Bank data comes in request bodies only (never a URL) and goes out masked; a refused field is answered by
its stable code, never its value (FastAPI's default 422 would echo the input: replaced below).

Requests are counted by route template, RIB lines accepted and refused by code; served with the process's
metrics on the ops port (APLYPRO_STUDENTS_API_OPS_PORT), which only the monitoring namespace reaches.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated
from uuid import UUID

import structlog
from aplypro_contracts.topics import STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.http_metrics import HttpMetrics
from aplypro_servicekit.http_ops import ops_port, pool_answers
from fastapi import Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from aplypro_students.adapters import postgres_rib_view
from aplypro_students.adapters.postgres_rib_view import RibView
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.report import InvalidFile
from aplypro_students.domain.rib import OwnerType
from aplypro_students.entrypoints.api_metrics import RIBS_ACCEPTED, count_refusals
from aplypro_students.entrypoints.service import MIGRATION_PACKAGES
from aplypro_students.service_layer.enter_ribs import EnteredRib, enter_ribs
from aplypro_students.service_layer.hide_schooling import HideRefused, set_hidden

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]


class RibIn(BaseModel):
    student_id: UUID
    owner_type: OwnerType
    holder_name: str = Field(max_length=200)
    iban: str = Field(max_length=64)
    bic: str = Field(max_length=32)


class RibsIn(BaseModel):
    recorded_by: str = Field(min_length=1, max_length=200, description="The web user's id (audit trail).")
    ribs: list[RibIn] = Field(min_length=1, max_length=1000)


class RibOut(BaseModel):
    rib_id: UUID
    student_id: UUID
    owner_type: OwnerType
    holder_name: str
    iban_masked: str
    bic: str
    version: int
    recorded_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, view: RibView) -> RibOut:
        return cls(**view._asdict())


class RibsOut(BaseModel):
    recorded: int
    unchanged: int
    archived: int
    ribs: list[RibOut]


class HiddenIn(BaseModel):
    hidden: bool
    recorded_by: str = Field(min_length=1, max_length=200, description="The web user's id (audit trail).")


class HiddenOut(BaseModel):
    schooling_id: UUID
    student_id: UUID
    hidden: bool
    version: int = Field(description="SchoolingHiddenChanged's version: a reader may apply the answer at once.")
    changed: bool
    hidden_at: datetime | None


def create_api(settings: StudentsSettings | None = None) -> FastAPI:
    settings = settings or StudentsSettings()
    if settings.api_token is None or not settings.api_token.get_secret_value():
        raise ValueError("APLYPRO_STUDENTS_API_TOKEN is not set: the internal API would be open")
    token = settings.api_token.get_secret_value()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        schema = settings.db_schema("students")
        pool = await create_pool(settings.database_url, schema, size=settings.db_pool_size)
        await migrate(pool, schema, ["aplypro_servicekit", *MIGRATION_PACKAGES])
        app.state.pool = pool
        try:
            async with ops_port(settings.ops_host, settings.api_ops_port, pool_answers(pool)) as ops:
                app.state.ops_server = ops
                yield
        finally:
            await pool.close()

    async def service_token(authorization: Annotated[str, Header()] = "") -> None:
        if not secrets.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "service token required")

    app = FastAPI(title="APLyPro students internal API", version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.add_middleware(HttpMetrics, name="students-api")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # where and why, never the input (an IBAN, a name)
        errors = [{"loc": list(e.get("loc", ())), "type": e.get("type")} for e in exc.errors()]
        return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    guarded = [Depends(service_token)]

    @app.get("/internal/v1/etablissements/{uai}/eleves/{student_id}/rib", dependencies=guarded,
             response_model=RibOut, responses={404: {"description": "no active RIB there"}})
    async def current_rib(request: Request, uai: Uai, student_id: UUID) -> RibOut:
        """The student's active RIB at this establishment, its IBAN masked."""
        async with request.app.state.pool.acquire() as conn:
            views = await postgres_rib_view.active_ribs(conn, uai, [student_id])
        if student_id not in views:
            raise HTTPException(404, "no active RIB")
        return RibOut.of(views[student_id])

    @app.post("/internal/v1/etablissements/{uai}/ribs", dependencies=guarded, response_model=RibsOut,
              responses={422: {"description": "refused entries: `errors` lists (line, column, code)"}})
    async def record(request: Request, uai: Uai, body: RibsIn) -> RibsOut | JSONResponse:
        """Enter or replace RIBs of students of this establishment, all or nothing (the old one archived)."""
        entries = [EnteredRib(r.student_id, r.owner_type, r.holder_name, r.iban, r.bic) for r in body.ribs]
        try:
            async with request.app.state.pool.acquire() as conn, conn.transaction():
                entered = await enter_ribs(conn, uai, entries, recorded_by=body.recorded_by,
                                           topic=settings.topic(STUDENTS_RIBS),
                                           events_topic=settings.topic(STUDENTS_EVENTS))
        except InvalidFile as exc:
            log.info("ribs_refused", entries=len(entries), errors=len(exc.errors))
            count_refusals(e.code for e in exc.errors)
            return JSONResponse({"detail": "refused", "errors": [
                {"line": e.line, "column": e.column, "code": e.code} for e in exc.errors]}, status_code=422)
        log.info("ribs_entered", entries=len(entries), **entered.summary.as_dict())
        RIBS_ACCEPTED.inc(len(entries))
        return RibsOut(**entered.summary.as_dict(), ribs=[RibOut.of(v) for v in entered.ribs])

    @app.put("/internal/v1/etablissements/{uai}/scolarites/{schooling_id}/masquage", dependencies=guarded,
             response_model=HiddenOut, responses={404: {"description": "no such schooling there"},
                                                  409: {"description": "refused: `code` says why"}})
    async def hide(request: Request, uai: Uai, schooling_id: UUID, body: HiddenIn) -> HiddenOut | JSONResponse:
        """Hide the schooling of a student who never came, or reintegrate it (SchoolingHiddenChanged)."""
        try:
            async with request.app.state.pool.acquire() as conn, conn.transaction():
                state = await set_hidden(conn, uai, schooling_id, body.hidden, by=body.recorded_by,
                                         topic=settings.topic(STUDENTS_EVENTS))
        except HideRefused as exc:
            status = 404 if exc.code == "schooling.unknown" else 409
            return JSONResponse({"detail": "refused", "code": exc.code}, status_code=status)
        return HiddenOut(**vars(state))

    return app
