"""`aplypro-documents api`: the documents' HTTP API the web application downloads through.

Service-to-service only: every route needs `Authorization: Bearer <APLYPRO_DOCUMENTS_API_TOKEN>`. It
knows no users; the web application checks the user's role and establishment before it calls (it reads
the document's schooling and UAI from the answer's headers or JSON first). Internal ids and numbers in
URLs, never names. Requests are counted by route template and served with the process's metrics (batches
too) on the ops port (APLYPRO_DOCUMENTS_API_OPS_PORT), which only the monitoring namespace reaches.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.http_metrics import HttpMetrics
from aplypro_servicekit.http_ops import ops_port, pool_answers
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from aplypro_documents.adapters import postgres_downloads
from aplypro_documents.adapters.storage import MissingObjectError, Storage, storage_from_settings
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.service_layer import downloads
from aplypro_documents.service_layer.batch_jobs import BatchJob, BatchJobs, UnknownBatchError
from aplypro_documents.service_layer.class_batch import CorruptObjectError, DocumentNotRenderedError

PARIS = ZoneInfo("Europe/Paris")


class DocumentOut(BaseModel):
    document_id: UUID
    kind: str
    schooling_id: UUID
    student_id: UUID | None
    number: str
    version: int
    issued_at: datetime
    size_bytes: int
    uai: str | None
    school_year: int
    file_name: str
    asp_file_name: str


class BatchIn(BaseModel):
    uai: str = Field(pattern=r"^[0-9]{7}[A-Z]$")
    school_year: int = Field(ge=2000, le=2100)
    class_label: str | None = None  # None: the whole establishment


class BatchOut(BaseModel):
    batch_id: UUID
    uai: str
    school_year: int
    class_label: str | None
    state: str
    done: int
    total: int
    pages: int
    waiting: int = 0  # DAs issued and not rendered yet: the batch waits for them
    error_code: str | None
    zip_name: str
    merged_name: str


def content_disposition(name: str) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name (accents of §7's names: décision, état)."""
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def _batch_out(job: BatchJob) -> BatchOut:
    return BatchOut(batch_id=job.batch_id, uai=job.uai, school_year=job.school_year, class_label=job.class_label,
                    state=job.state, done=job.done, total=job.total, pages=job.pages, waiting=job.waiting,
                    error_code=job.error_code,
                    zip_name=job.zip_name, merged_name=job.merged_name)


def create_api(settings: DocumentsSettings | None = None, *, storage: Storage | None = None,
               today: Callable[[], date] | None = None) -> FastAPI:
    settings = settings or DocumentsSettings()
    if settings.api_token is None or not settings.api_token.get_secret_value():
        raise RuntimeError("APLYPRO_DOCUMENTS_API_TOKEN is not set: the documents API never runs without it")
    token = settings.api_token.get_secret_value()
    clock = today or (lambda: datetime.now(PARIS).date())  # injected in tests: file names carry the date

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        schema = settings.db_schema("documents")
        pool = await create_pool(settings.database_url, schema, size=4)
        await migrate(pool, schema, ["aplypro_servicekit", "aplypro_documents"])
        app.state.pool = pool
        app.state.storage = storage or storage_from_settings(settings)
        app.state.batches = BatchJobs(pool, app.state.storage, settings.batch_dir)
        try:
            async with ops_port(settings.ops_host, settings.api_ops_port, pool_answers(pool)) as ops:
                app.state.ops_server = ops
                yield
        finally:
            await app.state.batches.close()
            await pool.close()

    async def service_token(request: Request) -> None:
        sent = request.headers.get("authorization", "")
        if not secrets.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "service token required")

    app = FastAPI(title="APLyPro documents API", version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(HttpMetrics, name="documents-api")

    @app.get("/health")
    async def health() -> dict[str, str]:
        """The kubelet's probe (deploy/k8s/documents-api.yaml): the one route without the token; says nothing."""
        return {"status": "ok"}

    guarded = APIRouter(dependencies=[Depends(service_token)])

    @guarded.get("/v1/documents", response_model=list[DocumentOut])
    async def by_number(request: Request, number: Annotated[str, Query(min_length=10, max_length=30)]) -> Any:
        """Every document known by this number (a DA number of any version: the ASP's dossier search)."""
        async with request.app.state.pool.acquire() as conn:
            rows = await postgres_downloads.by_number(conn, number.strip().upper())
            schoolings = {r["schooling_id"] for r in rows}
            # The number of one version finds the schooling: answer with all of its documents.
            rows = [row for s in schoolings for row in await postgres_downloads.of_schooling(conn, s)]
        return [downloads.describe(r) for r in rows]

    @guarded.get("/v1/schoolings/{schooling_id}/documents", response_model=list[DocumentOut])
    async def of_schooling(request: Request, schooling_id: UUID) -> Any:
        async with request.app.state.pool.acquire() as conn:
            rows = await postgres_downloads.of_schooling(conn, schooling_id)
            number = await postgres_downloads.latest_pfmp_number(conn, schooling_id)
        return [downloads.describe(r, number) for r in rows]

    @guarded.get("/v1/documents/{document_id}")
    async def document(request: Request, document_id: UUID,
                       audience: Annotated[str, Query(pattern="^(school|asp)$")] = "school") -> Response:
        """The PDF, checked against the sha256 recorded when rendered; named for school staff or for the ASP (§7).
        409 document_not_rendered: issued, its PDF not rendered yet."""
        try:
            got = await downloads.fetch(request.app.state.pool, request.app.state.storage, document_id)
        except downloads.UnknownDocumentError:
            raise HTTPException(404, "unknown_document") from None
        except DocumentNotRenderedError:
            # Issued (its number is fixed) and queued for rendering: ask again shortly.
            raise HTTPException(409, "document_not_rendered", headers={"Retry-After": "5"}) from None
        except MissingObjectError:
            raise HTTPException(410, "missing_object") from None
        except CorruptObjectError:
            raise HTTPException(500, "corrupt_object") from None
        name = got.asp_file_name if audience == "asp" else got.file_name
        return Response(got.data, media_type="application/pdf", headers={
            "Content-Disposition": content_disposition(name), "X-Document-Kind": got.meta["kind"],
            "X-Schooling-Id": str(got.meta["schooling_id"]), "X-Uai": got.meta["uai"] or ""})

    @guarded.post("/v1/batches", response_model=BatchOut, status_code=202)
    async def start_batch(request: Request, body: BatchIn) -> BatchOut:
        """Start building the zip and the merged PDF of a class's (or the establishment's) current DAs."""
        job = request.app.state.batches.start(body.uai, body.school_year, body.class_label, clock())
        return _batch_out(job)

    def job_of(request: Request, batch_id: UUID) -> BatchJob:
        try:
            job: BatchJob = request.app.state.batches.get(batch_id)
        except UnknownBatchError:
            raise HTTPException(404, "unknown_batch") from None
        return job

    @guarded.get("/v1/batches/{batch_id}", response_model=BatchOut)
    async def batch(request: Request, batch_id: UUID) -> BatchOut:
        return _batch_out(job_of(request, batch_id))

    @guarded.get("/v1/batches/{batch_id}/zip")
    async def batch_zip(request: Request, batch_id: UUID) -> Response:
        return _file(job_of(request, batch_id), "zip")

    @guarded.get("/v1/batches/{batch_id}/pdf")
    async def batch_pdf(request: Request, batch_id: UUID) -> Response:
        return _file(job_of(request, batch_id), "pdf")

    app.include_router(guarded)
    return app


def _file(job: BatchJob, part: str) -> Response:
    if job.state != "done":
        raise HTTPException(409, "batch_not_ready")
    path, name, media = ((job.zip_path, job.zip_name, "application/zip") if part == "zip"
                         else (job.merged_path, job.merged_name, "application/pdf"))
    # Streamed from disk: an establishment's zip can be hundreds of megabytes.
    return FileResponse(path, media_type=media, headers={"Content-Disposition": content_disposition(name)})
