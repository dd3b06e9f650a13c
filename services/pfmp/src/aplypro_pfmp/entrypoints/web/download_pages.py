"""Staff downloads (documents.md §7): a student's documents one by one; a class's zip and merged PDF of its
current DAs; the establishment's zip. The PDFs live in the documents service: this module checks the
user's role and establishment, then calls its HTTP API (documents_client).

Zips are built in the background by the documents service: the page shows the progress (`N / M`, updated in
place every two seconds by static/app/download-progress.js, never a reload) and then the links. A batch is reachable only from the session that asked for it, and
only through its establishment's URL.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from aplypro_pfmp.adapters import web_sql

from .documents_client import DocumentNotFound, DocumentsClient
from .rendering import render
from .role_guards import today_of
from .security import User, current_user, staff_of

log = structlog.get_logger(__name__)
Uai = Annotated[str, Path(pattern=r"^[0-9]{7}[A-Z]$")]
CurrentUser = Annotated[User, Depends(current_user)]
BATCHES_KEY, BATCHES_MAX = "batches", 20
KIND_LABELS = {"attribution": "Décision d'attribution", "abrogation": "Décision d'abrogation",
               "withdrawal": "Décision de retrait", "liquidation": "État liquidatif"}


def documents(request: Request) -> DocumentsClient:
    client: DocumentsClient = request.app.state.documents
    return client


def _remember(request: Request, batch_id: str, uai: str) -> None:
    kept = [b for b in request.session.get(BATCHES_KEY, []) if isinstance(b, list) and b[0] != batch_id]
    request.session[BATCHES_KEY] = [[batch_id, uai], *kept][:BATCHES_MAX]


def _asked_here(request: Request, batch_id: UUID, uai: str) -> None:
    if [str(batch_id), uai] not in request.session.get(BATCHES_KEY, []):
        raise HTTPException(404)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/etablissements/{uai}/eleves/{student_id}/documents", name="student_documents")
    async def student_documents(request: Request, uai: Uai, student_id: UUID, user: CurrentUser) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            student = await web_sql.student(conn, uai, student_id)
        if student is None:
            raise HTTPException(404)
        docs = [d for schooling in student.schoolings for d in await documents(request).of_schooling(schooling[0])]
        return render(request, "student_documents.html", {
            "title": f"Documents — {student.last_name} {' '.join(student.first_names)}", "uai": uai,
            "student": student, "documents": docs, "kinds": KIND_LABELS})

    @router.get("/etablissements/{uai}/documents/{document_id}", name="staff_document")
    async def document(request: Request, uai: Uai, document_id: UUID, user: CurrentUser) -> Response:
        staff_of(user, uai)
        try:
            pdf = await documents(request).pdf(document_id)
        except DocumentNotFound:
            raise HTTPException(404) from None
        async with request.app.state.pool.acquire() as conn:
            here = await conn.fetchval("SELECT uai FROM schoolings WHERE schooling_id = $1", pdf.schooling_id)
        if here != uai:  # a document of another establishment: not found, no hint
            raise HTTPException(404)
        log.info("document_downloaded", document_id=str(document_id), kind=pdf.kind)
        return Response(pdf.data, media_type="application/pdf",
                        headers={"Content-Disposition": pdf.content_disposition})

    @router.get("/etablissements/{uai}/telechargements", name="downloads")
    async def downloads(request: Request, uai: Uai, user: CurrentUser, annee: int | None = None) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            years = await web_sql.school_years(conn, uai)
            year = annee if annee in years else (years[0] if years else None)
            classes = [] if year is None else await web_sql.classes(conn, uai, year)
        return render(request, "downloads.html", {"title": "Téléchargements", "uai": uai, "years": years,
                                                  "year": year, "classes": classes})

    async def start(request: Request, uai: str, year: int, label: str | None) -> Response:
        job = await documents(request).start_batch(uai, year, label)
        _remember(request, str(job["batch_id"]), uai)
        log.info("batch_requested", batch_id=str(job["batch_id"]), whole_establishment=label is None)
        return RedirectResponse(request.url_for("download_progress", uai=uai, batch_id=job["batch_id"]),
                                status_code=303)

    @router.post("/etablissements/{uai}/annees/{year}/classes/{label}/telechargement", name="class_download")
    async def class_download(request: Request, uai: Uai, year: int, label: str, user: CurrentUser) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            if not await web_sql.students_of_class(conn, uai, year, label, today_of(request)):
                raise HTTPException(404)
        return await start(request, uai, year, label)

    @router.post("/etablissements/{uai}/annees/{year}/telechargement", name="establishment_download")
    async def establishment_download(request: Request, uai: Uai, year: int, user: CurrentUser) -> Response:
        staff_of(user, uai)
        async with request.app.state.pool.acquire() as conn:
            if year not in await web_sql.school_years(conn, uai):
                raise HTTPException(404)
        return await start(request, uai, year, None)

    @router.get("/etablissements/{uai}/telechargements/{batch_id}", name="download_progress")
    async def progress(request: Request, uai: Uai, batch_id: UUID, user: CurrentUser) -> Response:
        staff_of(user, uai)
        _asked_here(request, batch_id, uai)
        try:
            job = await documents(request).batch(batch_id)
        except DocumentNotFound:
            raise HTTPException(404) from None
        if job["uai"] != uai:
            raise HTTPException(404)
        return render(request, "download_progress.html", {"title": "Téléchargement", "uai": uai, "job": job})

    @router.get("/etablissements/{uai}/telechargements/{batch_id}/{part}", name="download_file")
    async def download_file(request: Request, uai: Uai, batch_id: UUID, part: Literal["zip", "pdf"],
                            user: CurrentUser) -> Response:
        staff_of(user, uai)
        _asked_here(request, batch_id, uai)
        try:
            chunks, headers, close = await documents(request).batch_file(batch_id, part)
        except DocumentNotFound:
            raise HTTPException(404) from None
        media = "application/zip" if part == "zip" else "application/pdf"
        return StreamingResponse(chunks, media_type=media, background=BackgroundTask(close), headers={
            "Content-Disposition": headers["content-disposition"]})

    return router
