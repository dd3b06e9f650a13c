"""`aplypro-students`: run the service, load reference data, import students (CSV, SYGNE, FREGATA) and RIBs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from aplypro_contracts.topics import STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_servicekit.cli import run_service
from aplypro_servicekit.db import Connection
from aplypro_servicekit.logs import configure_logging

from aplypro_students.adapters import postgres
from aplypro_students.adapters.csv_calendar import SAMPLE as SAMPLE_CALENDAR
from aplypro_students.adapters.csv_calendar import read_calendar_csv
from aplypro_students.adapters.csv_communes import SAMPLE as SAMPLE_COMMUNES
from aplypro_students.adapters.csv_communes import read_commune_exceptions_csv
from aplypro_students.adapters.csv_reader import CellError, parse_uai
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_ribs import read_ribs_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.adapters.postgres_detail_queue import queue_depth
from aplypro_students.adapters.postgres_reference import reference_counts
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.departures import MassDeparture
from aplypro_students.domain.reconcile import current_school_year
from aplypro_students.domain.report import InvalidFile, RowError
from aplypro_students.entrypoints import fast_loop, merge_cli, ops_cli
from aplypro_students.entrypoints._db import in_transaction
from aplypro_students.entrypoints.establishments_load import load_and_republish
from aplypro_students.entrypoints.fregata_import import import_fregata_command
from aplypro_students.entrypoints.service import build_spec
from aplypro_students.entrypoints.sygne_import import run_import, sygne_settings
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.ine_status import IneStatus, record_ine_status
from aplypro_students.service_layer.record_ribs import record_ribs
from aplypro_students.service_layer.reference import (
    load_calendar,
    load_commune_exceptions,
    load_mefs,
)

PARIS = ZoneInfo("Europe/Paris")  # "today" of a French school, for inferred closing dates

app = typer.Typer(help="Students service: who is enrolled where, and their bank details.", no_args_is_help=True)


class Mode(StrEnum):
    PARTIAL = "partial"  # upsert; close only rows that carry date_fin
    FULL = "full"  # the file is complete: absentees have left, under the mass-departure guard


def _settings() -> StudentsSettings:
    settings = StudentsSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    return settings


def _refuse(errors: list[RowError], what: str = "nothing imported") -> NoReturn:
    """Reports (line, column, reason) on stderr, never a cell value, and exits with status 2."""
    for err in errors:
        typer.echo(str(err), err=True)
    typer.echo(f"{what}: {len(errors)} error(s)", err=True)
    raise typer.Exit(2)


def _print(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False))


def _uai(text: str) -> str:
    try:
        return parse_uai(text.strip())
    except CellError as exc:
        _refuse([RowError(0, "uai", "uai.format", exc.reason)])


@app.command()
def run() -> None:
    """Run the service process: it relays the outbox to Kafka."""
    settings = StudentsSettings()
    run_service(build_spec, settings)


@app.command()
def status() -> None:
    """Print counts of students, schoolings, RIBs and reference data, and the SYGNE detail queue, as JSON."""

    settings = _settings()

    async def work(conn: Connection) -> dict[str, Any]:
        return {**await postgres.counts(conn), **await reference_counts(conn),
                **await queue_depth(conn, settings.sygne_details_max_attempts)}

    _print(asyncio.run(in_transaction(settings, work)))


@app.command("load-establishments")
def load_establishments_command(file: Path) -> None:
    """Load establishments (`;`: uai;name;ministry;academy_code;contract_type_code;address_line1;...).

    The schoolings of each establishment whose row changed are re-published (SchoolingChanged, `changed`:
    establishment), in chunks, with a progress bar on stderr; the last line is the JSON summary."""
    try:
        establishments = read_establishments_csv(file)
    except InvalidFile as exc:
        _refuse(exc.errors, "nothing loaded")
    _print(load_and_republish(_settings(), establishments))


@app.command("load-mefs")
def load_mefs_command(
    file: Path, school_year: Annotated[int, typer.Option(help="Start year: 2025 means 2025-2026.")],
) -> None:
    """Load the eligible MEF list of a school year from a BCN export (`,`-separated)."""
    try:
        mefs = read_bcn_mefs_csv(file)
    except InvalidFile as exc:
        _refuse(exc.errors, "nothing loaded")

    async def work(conn: Connection) -> int:
        return await load_mefs(conn, school_year, mefs)

    _print({"mefs": asyncio.run(in_transaction(_settings(), work)), "school_year": school_year})


@app.command("load-calendar")
def load_calendar_command(
    file: Annotated[Path | None, typer.Argument(
        help="The open-data fr-en-calendrier-scolaire export (`;`); without it, the sample shipped.")] = None,
) -> None:
    """Load the academic calendar (imports.md §6.3): each academy's summer holidays, which bound its school
    years; an academy or year without them keeps the fallback (1 September; Mayotte 23, La Réunion 16 August)."""
    _load_table(read_calendar_csv, file or SAMPLE_CALENDAR, load_calendar)


@app.command("load-commune-exceptions")
def load_commune_exceptions_command(
    file: Annotated[Path | None, typer.Argument(
        help="`type;ancien_code;nouveau_code` (type naissance or residence); without it, the sample shipped.")
    ] = None,
) -> None:
    """Load the obsolete INSEE commune codes (imports.md §4): each import stores the new code instead of the old
    one (birth or residence commune). The file replaces the whole table; a refused line loads nothing."""
    _load_table(read_commune_exceptions_csv, file or SAMPLE_COMMUNES, load_commune_exceptions)


Table = TypeVar("Table")


def _load_table(read: Callable[[Path], Table], file: Path,
                load: Callable[[Connection, Table], Awaitable[dict[str, int]]]) -> None:
    """Read a reference file whole (a refused line loads nothing: exit 2), load it in one transaction, print
    what it counted."""
    try:
        table = read(file)
    except InvalidFile as exc:
        _refuse(exc.errors, "nothing loaded")

    async def work(conn: Connection) -> dict[str, int]:
        return await load(conn, table)

    _print(asyncio.run(in_transaction(_settings(), work)))


@app.command("import-csv")
def import_csv(
    file: Path,
    uai: Annotated[str, typer.Option(help="The establishment the file describes.")],
    mode: Annotated[Mode, typer.Option(help="partial: upsert; full: absentees have left.")] = Mode.PARTIAL,
    accept_valid_rows: Annotated[bool, typer.Option(help="Import the valid rows, report the others.")] = False,
    force_departures: Annotated[bool, typer.Option(
        help="Full mode: close the absentees even over the mass-departure threshold (after review).")] = False,
) -> None:
    """Import one establishment's students and schoolings for one school year (imports.md §3.3)."""
    target = _uai(uai)
    try:
        parsed = read_students_csv(file, uai=target)
    except InvalidFile as exc:
        _refuse(exc.errors)
    command = ImportStudents(target, parsed.records, parsed.errors, parsed.warnings,
                             "full" if mode is Mode.FULL else "partial", accept_valid_rows,
                             force_departures=force_departures)
    settings = _settings()
    today = datetime.now(PARIS).date()

    async def work(conn: Connection) -> dict[str, Any]:
        summary = await import_students(conn, command, today=today, topic=settings.topic(STUDENTS_EVENTS),
                                        max_departure_share=settings.mass_departure_share)
        return summary.as_dict()

    try:
        _print(asyncio.run(in_transaction(settings, work)))
    except InvalidFile as exc:
        _refuse(exc.errors)
    except MassDeparture as exc:
        typer.echo(f"{exc.code}: {exc} (--force-departures); nothing imported", err=True)
        raise typer.Exit(3) from None


@app.command("import-sygne")
def import_sygne_command(
    uai: Annotated[str | None, typer.Option(help="One establishment.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every establishment SYGNE serves (all but MASA).")] = False,
    school_year: Annotated[int | None, typer.Option(help="Start year (2025 = 2025-2026); default: now.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Fetch and reconcile, then roll back: nothing written.")] = False,
    mode: Annotated[Mode, typer.Option(help="partial: upsert; full: the list is a snapshot, absentees have left.")
                    ] = Mode.PARTIAL,
    force_departures: Annotated[bool, typer.Option(
        help="Full mode: close the absentees even over the mass-departure threshold (after review).")] = False,
) -> None:
    """Import students from SYGNE (imports.md §3.1); the last line is a JSON summary, progress goes to stderr."""
    if (uai is None) == (not all_):
        _refuse([RowError(0, "uai", "uai.required", "give --uai UAI or --all, not both")], "nothing imported")
    sygne = sygne_settings()
    settings = _settings()
    today = datetime.now(PARIS).date()
    year = school_year if school_year is not None else current_school_year(today)
    summary, ok = fast_loop.run(run_import(settings, sygne, None if all_ else [_uai(uai or "")], year,
                                           today=today, dry_run=dry_run, mode=mode.value,
                                           force_departures=force_departures))
    _print(summary)
    if not ok:
        raise typer.Exit(1)


app.command("import-fregata")(import_fregata_command)


@app.command("import-ribs")
def import_ribs(
    file: Path,
    uai: Annotated[str | None, typer.Option(help="Establishment of every row (else a `uai` column).")] = None,
) -> None:
    """Record bank details (`ine;titulaire;type_titulaire;iban;bic`); any refused row records nothing."""
    target = _uai(uai) if uai is not None else None
    try:
        parsed = read_ribs_csv(file, uai=target)
    except InvalidFile as exc:
        _refuse(exc.errors, "nothing recorded")
    if parsed.errors:
        _refuse(parsed.errors, "nothing recorded")
    settings = _settings()

    async def work(conn: Connection) -> dict[str, Any]:
        summary = await record_ribs(conn, parsed.entries, topic=settings.topic(STUDENTS_RIBS),
                                    events_topic=settings.topic(STUDENTS_EVENTS))
        return {**summary.as_dict(), "warnings": [w.as_dict() for w in parsed.warnings]}

    try:
        _print(asyncio.run(in_transaction(settings, work)))
    except InvalidFile as exc:
        _refuse(exc.errors, "nothing recorded")


def _ine_status(ines: list[str], status: IneStatus, by: str) -> None:
    settings = _settings()

    async def work(conn: Connection) -> dict[str, Any]:
        summary = await record_ine_status(conn, ines, status, by=by, topic=settings.topic(STUDENTS_EVENTS))
        return summary.as_dict()

    _print(asyncio.run(in_transaction(settings, work)))


_INES = Annotated[list[str], typer.Argument(help="INEs the student API answered for.")]
_BY = Annotated[str, typer.Option("--by", help="Who records it (user id, or the API refresh job): audit trail.")]


@app.command("ine-not-found")
def ine_not_found(ines: _INES, by: _BY) -> None:
    """The student API answered "not found" for these INEs: their payment requests are blocked (ine_not_found)."""
    _ine_status(ines, "not_found", by)


@app.command("ine-found")
def ine_found(ines: _INES, by: _BY) -> None:
    """The student API knows these INEs again: the ine_not_found block is lifted."""
    _ine_status(ines, "found", by)


ops_cli.register(app)  # set-provider, refresh-student, import-all
merge_cli.register(app)  # review-items, merge-students


@app.command("api")
def api_command() -> None:
    """Serve the internal HTTP API the web application enters RIBs through (APLYPRO_STUDENTS_API_TOKEN,
    APLYPRO_STUDENTS_API_HOST / _PORT; metrics on APLYPRO_STUDENTS_API_OPS_PORT)."""
    import uvicorn

    from aplypro_students.entrypoints.http_api import create_api

    settings = _settings()
    configure_logging("students-api", settings.log_level, settings.log_json)
    try:
        api = create_api(settings)
    except ValueError as exc:  # no service token: an open API would let anyone enter RIBs
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    # no access log: paths carry student ids only, but the web's requests need no second trace
    uvicorn.run(api, host=settings.api_host, port=settings.api_port, access_log=False, log_config=None)


def main() -> None:
    app()
