"""`aplypro-documents`: run the service, render a sample or one student's document, download a class's DAs,
queue the reissue of a year's DAs, see the documents issued and not rendered yet, render again those given up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from uuid import UUID

import asyncpg
import typer
from aplypro_servicekit.cli import run_service
from aplypro_servicekit.db import create_pool
from aplypro_servicekit.logs import configure_logging
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from aplypro_documents.adapters import postgres_render
from aplypro_documents.adapters.storage import MissingObjectError, storage_from_settings
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.domain.model import DocumentKind
from aplypro_documents.entrypoints.service import build_spec
from aplypro_documents.rendering import render_one, samples
from aplypro_documents.rendering.templates import title
from aplypro_documents.service_layer.class_batch import (
    CorruptObjectError,
    DocumentNotRenderedError,
    load_entries,
    write_batch,
)
from aplypro_documents.service_layer.content import number_and_version
from aplypro_documents.service_layer.reissue import request_reissue
from aplypro_documents.service_layer.student_document import issued_document

app = typer.Typer(help="Documents: décisions d'attribution and other official documents.", no_args_is_help=True)
T = TypeVar("T")

PdfOut = Annotated[Path, typer.Option("--out", help="PDF file to write.", dir_okay=False)]


@app.command()
def run() -> None:
    """Run the service: consume students, RIB, PFMP and calculator events; render, store and announce the
    décisions d'attribution, abrogations, retraits and états liquidatifs they call for."""
    settings = DocumentsSettings()
    run_service(build_spec, settings)


@app.command()
def api() -> None:
    """Serve the documents' HTTP API (downloads for the web application; service token required:
    APLYPRO_DOCUMENTS_API_TOKEN) on APLYPRO_DOCUMENTS_API_HOST:APLYPRO_DOCUMENTS_API_PORT."""
    import uvicorn

    from aplypro_documents.entrypoints.http_api import create_api

    settings = DocumentsSettings()
    configure_logging("documents-api", settings.log_level, settings.log_json)
    try:
        application = create_api(settings)
    except RuntimeError as exc:
        _fail(exc)
    uvicorn.run(application, host=settings.api_host, port=settings.api_port, access_log=False)


@app.command("render-sample")
def render_sample(
    kind: Annotated[DocumentKind, typer.Option(help="Which of the four documents.")],
    out: PdfOut,
    index: Annotated[int, typer.Option(min=0, help="Which fictitious student.")] = 1,
) -> None:
    """Render one document of a fictitious student (no database, no settings)."""
    doc = samples.sample(kind, index)
    _write(out, render_one(doc))
    typer.echo(f"{title(doc)} -> {out}")


@app.command()
def student(
    schooling_id: Annotated[UUID, typer.Argument(help="Internal id of the schooling.")],
    out: PdfOut,
    kind: Annotated[DocumentKind, typer.Option(help="Which of the four documents.")] = DocumentKind.ATTRIBUTION,
) -> None:
    """Re-render the latest issued version of one schooling's document of a kind, from the service's database
    (same number and version as issued); exit 1 if that kind was never issued or no longer matches its inputs."""
    settings = DocumentsSettings()
    try:
        doc = _with_pool(settings, lambda pool: issued_document(pool, schooling_id, kind, settings.programmes))
    except (LookupError, ValueError) as exc:
        _fail(exc)
    _write(out, render_one(doc))
    typer.echo(f"{title(doc)} (version {number_and_version(doc)[1]}) -> {out}")


@app.command("class-batch")
def class_batch(
    uai: Annotated[str, typer.Option(help="Establishment (UAI).")],
    school_year: Annotated[int, typer.Option(help="Start year: 2025 means 2025-2026.")],
    zip_out: Annotated[Path, typer.Option("--zip", help="Zip to write, one PDF per student.", dir_okay=False)],
    merged_out: Annotated[Path, typer.Option("--merged", help="Merged PDF to write.", dir_okay=False)],
    class_label: Annotated[str | None, typer.Option(help="Only this class (default: every class).")] = None,
) -> None:
    """Collect the stored current DAs of an establishment (or one class) into a zip and one merged PDF."""
    settings = DocumentsSettings()
    entries = _with_pool(settings, lambda pool: load_entries(
        pool, uai=uai, school_year=school_year, class_label=class_label))  # fmt: skip
    if not entries:
        _fail(LookupError(f"no décision d'attribution stored for {uai} {school_year} {class_label or ''}"))
    storage = storage_from_settings(settings)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task("décisions d'attribution", total=len(entries))
            result = write_batch(
                entries, storage.get, zip_path=zip_out, merged_path=merged_out, school_year=school_year,
                one_class=class_label is not None, on_written=lambda _: progress.advance(task),
                title=f"Décisions d'attribution {uai} {school_year}-{school_year + 1} {class_label or ''}".strip(),
            )  # fmt: skip
    except (MissingObjectError, CorruptObjectError, DocumentNotRenderedError) as exc:
        _fail(exc)
    typer.echo(f"{result.documents} décisions -> {result.zip_path}, {result.merged_path} ({result.pages} pages)")


@app.command()
def reissue(
    uai: Annotated[str, typer.Option(help="Establishment (UAI).")],
    school_year: Annotated[int, typer.Option(help="Start year: 2025 means 2025-2026.")],
    schooling: Annotated[UUID | None, typer.Option(help="Only this schooling (default: every DA of the year).")] = None,
) -> None:
    """Queue the reissue (version + 1) of the décisions d'attribution of an establishment's school year, hidden
    schoolings included, or of one schooling. The running service renders them; an unchanged DA is skipped,
    and one already at version 9 is refused (version_limit_reached)."""
    settings = DocumentsSettings()
    try:
        request = _with_pool(settings, lambda pool: request_reissue(
            pool, uai=uai, school_year=school_year, schooling_id=schooling))  # fmt: skip
    except (LookupError, ValueError) as exc:
        _fail(exc)
    if not request.queued and not request.final:
        _fail(LookupError(f"no décision d'attribution issued for {uai} {school_year}"))
    typer.echo(f"{len(request.queued)} décisions d'attribution queued for reissue ({uai} {school_year})")
    for schooling_id in request.final:
        typer.echo(f"not reissued, abrogated or withdrawn: {schooling_id}", err=True)
    for schooling_id in request.at_limit:
        typer.echo(f"at version 9, refused unless unchanged (version_limit_reached): {schooling_id}", err=True)


@app.command()
def status(
    limit: Annotated[int, typer.Option(min=0, help="Documents given up to list, oldest first.")] = 20,
) -> None:
    """Documents issued (numbered, DocumentIssued sent) whose PDF is not stored yet, per kind: waiting for a
    render lane, or given up after their render attempts (dead-lettered; `rerender` takes them back)."""
    settings = DocumentsSettings()

    async def read(pool: asyncpg.Pool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with pool.acquire() as conn:
            return await postgres_render.unrendered_summary(conn), await postgres_render.given_up(conn, limit)

    summary, given_up = _with_pool(settings, read)
    if not summary:
        typer.echo("every issued document is rendered")
    for row in summary:
        typer.echo(f"{row['kind']} {row['state']}: {row['documents']} (oldest issued {row['oldest_s']:.0f} s ago)")
    for row in given_up:
        typer.echo(f"given up: {row['document_id']} {row['kind']} schooling {row['schooling_id']} "
                   f"{row['number']} v{row['version']} after {row['render_attempts']} attempts: {row['render_error']}")


@app.command()
def rerender(
    document: Annotated[list[UUID] | None, typer.Option(help="Only this document (repeat for several).")] = None,
) -> None:
    """Give the documents given up by the render lanes (all of them, or those named) their attempts back: the
    running service renders them again, from the content fixed at issue (same number, same version)."""
    settings = DocumentsSettings()

    async def reset(pool: asyncpg.Pool) -> list[UUID]:
        async with pool.acquire() as conn:
            return await postgres_render.rerender(conn, list(document) if document else None)

    done = _with_pool(settings, reset)
    if document and len(done) < len(document):
        missing = sorted(str(d) for d in set(document) - set(done))
        typer.echo(f"not given up (rendered, still rendering, or unknown): {', '.join(missing)}", err=True)
    typer.echo(f"{len(done)} documents queued for rendering again")
    if document and not done:
        raise typer.Exit(1)


@app.command()
def version() -> None:
    """Print the package version."""
    typer.echo("aplypro-documents 0.1.0")


def _with_pool(settings: DocumentsSettings, use: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    async def go() -> T:
        pool = await create_pool(settings.database_url, settings.db_schema("documents"), size=2)
        try:
            return await use(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(go())
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
        _fail(RuntimeError("the documents schema is missing or outdated: start the service once to migrate it"))


def _write(out: Path, pdf: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)


def _fail(exc: Exception) -> NoReturn:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


def main() -> None:
    # Tool commands log warnings only, to stderr; `run` reconfigures from its settings.
    configure_logging("documents", "WARNING", json_output=False)
    app()
