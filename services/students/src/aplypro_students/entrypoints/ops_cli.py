"""Operator commands: `set-provider`, `refresh-student`, `import-all` and `exclusions` (registered on the main CLI
app)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.cli import service_pool
from aplypro_servicekit.db import Connection
from aplypro_servicekit.logs import configure_logging
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiBadPayload, ApiUnavailable
from aplypro_students.adapters.csv_reader import CellError
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.exclusions import Exclusion, ExclusionConflict, ExclusionInvalid
from aplypro_students.domain.provider import InvalidProvider
from aplypro_students.domain.reconcile import current_school_year
from aplypro_students.entrypoints import fast_loop
from aplypro_students.entrypoints._db import in_transaction
from aplypro_students.entrypoints.import_sources import SourceUnavailable
from aplypro_students.entrypoints.nightly import PARIS, run_source
from aplypro_students.entrypoints.service import MIGRATION_PACKAGES
from aplypro_students.entrypoints.sygne_import import sygne_settings
from aplypro_students.service_layer import exclusions
from aplypro_students.service_layer.import_all import RunInProgress
from aplypro_students.service_layer.providers import UnknownEstablishment, change_provider
from aplypro_students.service_layer.refresh_student import refresh_student


def _settings() -> StudentsSettings:
    settings = StudentsSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    return settings


def _print(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def _fail(code: str, message: str, exit_code: int) -> typer.Exit:
    typer.echo(f"{code}: {message}", err=True)
    return typer.Exit(exit_code)


def set_provider(
    uai: Annotated[str, typer.Argument(help="The establishment.")],
    provider: Annotated[str, typer.Argument(help="sygne, fregata, csv or events:<producer>.")],
    user: Annotated[str, typer.Option("--user", help="Who changes it (user id): the audit record.")],
) -> None:
    """Set where an establishment's students come from (imports.md §1), with an audit record."""
    settings = _settings()

    async def work(conn: Connection) -> dict[str, Any]:
        return (await change_provider(conn, [uai.strip().upper()], provider, by=user)).as_dict()

    try:
        _print(asyncio.run(in_transaction(settings, work)))
    except (InvalidProvider, UnknownEstablishment) as exc:
        raise _fail(exc.code, str(exc), 2) from None
    except ValueError as exc:
        raise _fail("user.required", str(exc), 2) from None


def refresh_student_command(
    ine: Annotated[str, typer.Argument(help="The student's INE.")],
) -> None:
    """Refresh one student from SYGNE now: detail (identity, address) and history (dates), reconciled.

    Exit 4: SYGNE does not know the INE (its status becomes ine_not_found when the student is ours)."""
    sygne = sygne_settings()
    settings = _settings()
    today = datetime.now(PARIS).date()

    async def work() -> dict[str, Any]:
        from aplypro_students.adapters.sygne.client import SygneClient

        async with service_pool(settings, "students", MIGRATION_PACKAGES) as (pool, _schema), \
                SygneClient(sygne) as api:
            report = await refresh_student(pool, api, ine, today=today, topic=settings.topic(STUDENTS_EVENTS),
                                           summer_freeze=sygne.summer_freeze)
            return report.as_dict()

    try:
        report = asyncio.run(work())
    except CellError as exc:
        raise _fail("ine.format", exc.reason, 2) from None
    except (ApiUnavailable, ApiBadPayload, ApiAuthFailed) as exc:
        raise _fail(exc.code, f"{exc}; nothing written", 1) from None
    _print(report)
    if report["ine_status"] == "not_found":
        what = ("its status is now ine_not_found: its payments are blocked" if report["known"]
                else "no student has it here either: nothing recorded")
        raise _fail("ine_not_found", f"SYGNE does not know this INE; {what}", 4)


def import_all_command(
    source: Annotated[str, typer.Option(help="The students provider to import: sygne or fregata.")] = "sygne",
    school_year: Annotated[int | None, typer.Option(help="Start year (2025 = 2025-2026); default: now.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes sharing the establishments; default: "
                                                "APLYPRO_STUDENTS_IMPORT_WORKERS (2).")] = None,
) -> None:
    """Import every establishment whose provider is SOURCE; resumes an interrupted run of the same night.

    A progress bar on stderr; the last line of stdout is the JSON summary. Exit 1 if an establishment failed
    (a re-run retries those), 2 if the source cannot run."""
    settings = _settings()
    today = datetime.now(PARIS).date()
    year = school_year if school_year is not None else current_school_year(today)
    console = Console(file=sys.stderr)

    async def work() -> dict[str, Any]:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console, transient=False) as progress:
            task = progress.add_task(f"{source} {year}", total=None)

            def on_done(uai: str, outcome: str, report: dict[str, Any]) -> None:
                progress.update(task, advance=1, description=f"{source} {year} {uai} {outcome}")

            # a connection for each establishment at once, the run's lock and a claim
            size = settings.import_concurrency + 2
            async with service_pool(settings, "students", MIGRATION_PACKAGES, size=size) as (pool, _schema):
                async with pool.acquire() as conn:
                    total = await conn.fetchval("SELECT count(*) FROM establishments WHERE students_provider = $1",
                                                source)
                progress.update(task, total=total)
                return await run_source(pool, settings, source, year, today=today, on_done=on_done, workers=workers)

    try:
        summary = fast_loop.run(work())
    except (SourceUnavailable, RunInProgress) as exc:
        raise _fail(exc.code, str(exc), 2) from None
    _print(summary)
    if summary.get("failed") or summary.get("stopped"):
        raise typer.Exit(1)


exclusions_app = typer.Typer(help="Exclusions (imports.md §6.2): an establishment, or one of its MEFs, optionally "
                             "for one school year, left out of the scheme; imports skip what they cover.",
                             no_args_is_help=True)
_UAI = Annotated[str, typer.Argument(help="The establishment.")]
_MEF = Annotated[str | None, typer.Option("--mef", help="One MEF code; without it, the whole establishment.")]
_YEAR = Annotated[int | None, typer.Option("--school-year", help="Start year (2025 = 2025-2026); without it, "
                                           "every year.")]


@exclusions_app.command("add")
def exclusions_add(uai: _UAI, user: Annotated[str, typer.Option("--user", help="Who adds it (user id).")],
                   mef: _MEF = None, school_year: _YEAR = None) -> None:
    """Add an exclusion; adding it again changes nothing. Records already imported stay; the calculator, told by
    an ExclusionChanged event, blocks their payment."""
    settings = _settings()
    row = Exclusion.of(uai, mef, school_year)

    async def work(conn: Connection) -> dict[str, Any]:
        return await exclusions.add(conn, row, by=user, topic=settings.topic(STUDENTS_EVENTS))

    try:
        _print(asyncio.run(in_transaction(settings, work)))
    except (ExclusionConflict, ExclusionInvalid, UnknownEstablishment) as exc:
        raise _fail(exc.code, str(exc), 2) from None
    except ValueError as exc:
        raise _fail("user.required", str(exc), 2) from None


@exclusions_app.command("remove")
def exclusions_remove(uai: _UAI, mef: _MEF = None, school_year: _YEAR = None) -> None:
    """Remove the exclusion named exactly; its records import again from the next import, and the calculator
    prices what it held back."""
    settings = _settings()
    row = Exclusion.of(uai, mef, school_year)

    async def work(conn: Connection) -> dict[str, Any]:
        return await exclusions.remove(conn, row, topic=settings.topic(STUDENTS_EVENTS))

    try:
        _print(asyncio.run(in_transaction(settings, work)))
    except ExclusionInvalid as exc:
        raise _fail(exc.code, str(exc), 2) from None


@exclusions_app.command("list")
def exclusions_list() -> None:
    """Every exclusion, as one JSON object."""
    settings = _settings()

    async def work(conn: Connection) -> dict[str, Any]:
        return {"exclusions": await exclusions.listing(conn)}

    _print(asyncio.run(in_transaction(settings, work)))


def register(app: typer.Typer) -> None:
    app.add_typer(exclusions_app, name="exclusions")
    app.command("set-provider")(set_provider)
    app.command("refresh-student")(refresh_student_command)
    app.command("import-all")(import_all_command)
