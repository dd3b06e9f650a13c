"""`aplypro-pfmp`: run the service, import PFMPs from a CSV file, validate completed PFMPs, ask for the
retrait of a décision d'attribution; the life-cycle commands are in cli_lifecycle."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import typer
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_servicekit.cli import run_service, service_pool
from aplypro_servicekit.replay import UnknownSubscription
from aplypro_servicekit.replay import replay as replay_subscription

from aplypro_pfmp.adapters import postgres
from aplypro_pfmp.adapters.csv_file import InvalidFile, read_pfmp_lines
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.decisions import WithdrawalReason, WithdrawDecision, request_withdrawal
from aplypro_pfmp.service_layer.imports import IMPORT_USER, ImportSummary, import_pfmps
from aplypro_pfmp.service_layer.validation import ValidationReport, validate_establishment

from . import cli_indicators, cli_lifecycle, cli_school_years, cli_web
from .service import build_spec
from .transaction import all_or_nothing

PARIS = ZoneInfo("Europe/Paris")  # "today" for schools is the French calendar day

app = typer.Typer(help="PFMP service: workplace training periods, their day counts and validation.",
                  no_args_is_help=True)


@app.command()
def run() -> None:
    """Run the service: consume students events, publish PFMP events."""
    settings = PfmpSettings()
    run_service(build_spec, settings)


def _db(settings: PfmpSettings) -> AbstractAsyncContextManager[tuple[asyncpg.Pool, str]]:
    return service_pool(settings, "pfmp", ["aplypro_pfmp"])


@app.command("import-csv")
def import_csv(file: Path, user: Annotated[str, typer.Option(
        help="Internal user id of who imports (audit trail).")] = IMPORT_USER) -> None:
    """Record the PFMPs of a CSV file (`ine;uai;annee_scolaire;date_debut;date_fin;nb_jours`).

    A file that cannot be read is refused with its report and status 2, and so are rows refused when
    recorded (unknown schooling, a rule, a period overlapping another PFMP of the student, a new day count
    for a validated PFMP, an event over the record size limit). Either way nothing is recorded.
    Otherwise prints `{"recorded": n, "edited": n, "unchanged": n}`: a row whose period (student,
    schooling, start, end) already has its PFMP edits its day count, or changes nothing if it is the same.
    """
    try:
        commands = read_pfmp_lines(file)
    except InvalidFile as exc:
        for err in exc.errors:
            typer.echo(f"line {err.line}, column {err.column}: {err.reason}", err=True)
        typer.echo(f"nothing recorded: {len(exc.errors)} error(s)", err=True)
        raise typer.Exit(2) from None

    summary: ImportSummary = all_or_nothing(
        lambda conn, settings: import_pfmps(conn, commands, topic=settings.topic(PFMP_EVENTS), user_id=user),
        lambda done: bool(done.refused))
    for refused in summary.refused:
        typer.echo(str(refused), err=True)
    if summary.refused:
        typer.echo(f"nothing recorded: {len(summary.refused)} of {len(commands)} rows refused", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(summary.as_dict()))


@app.command()
def validate(
    uai: Annotated[str | None, typer.Option(help="Only this establishment.")] = None,
    user: Annotated[str, typer.Option(help="Internal user id of the confirmed director (audit trail).")] = "system",
) -> None:
    """Validate every completed PFMP that has ended and whose guards pass (RIB for the establishment, issued
    DA), as the establishment's confirmed director. The others are skipped, each reported on stderr as
    `pfmp <id>: <code>: <message>`. Prints `{"validated": n, "skipped": {code: n}}`, exit 0."""

    async def go() -> ValidationReport:
        settings = PfmpSettings()
        async with _db(settings) as (pool, _), pool.acquire() as conn, conn.transaction():
            return await validate_establishment(conn, uai=uai, user_id=user, today=datetime.now(PARIS).date(),
                                                topic=settings.topic(PFMP_EVENTS), require_rib=settings.require_rib)

    try:
        report = asyncio.run(go())
    except PfmpError as exc:
        typer.echo(f"{exc.code}: {exc}", err=True)
        raise typer.Exit(1) from None
    for refusal in report.refused:
        typer.echo(f"pfmp {refusal.pfmp_id}: {refusal.code}: {refusal.message}", err=True)
    typer.echo(json.dumps(report.as_dict()))


@app.command("withdraw-decision")
def withdraw_decision(
    schooling_id: Annotated[UUID, typer.Argument(help="Internal id of the schooling.")],
    reason: Annotated[WithdrawalReason, typer.Option(help="Why the right never existed.")],
    requested_by: Annotated[str, typer.Option(help="Internal user id of the confirmed director.")],
) -> None:
    """Ask documents for the retrait of a schooling's décision d'attribution (confirmed director only)."""

    async def go() -> str:
        settings = PfmpSettings()
        async with _db(settings) as (pool, _), pool.acquire() as conn, conn.transaction():
            event = await request_withdrawal(conn, WithdrawDecision(schooling_id, reason, requested_by),
                                             topic=settings.topic(PFMP_EVENTS))
            return str(event.event_id)

    try:
        event_id = asyncio.run(go())
    except PfmpError as exc:
        typer.echo(f"{exc.code}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps({"requested": str(schooling_id), "event_id": event_id}))


@app.command()
def replay(consumers: Annotated[list[str] | None, typer.Argument(
        help="students-projection, payment-facts; none: both, in that order.")] = None) -> None:
    """Replay pfmp's projections from their topics (features.md §2): every event from the start of each topic runs
    through the consumer's handlers again, which apply it by their own rules (versions, timestamps), so what the
    projection gained later (the indicator facts of migration 0016, the DA fingerprints of 0018) is filled. The live
    consumer groups' offsets and inboxes are left alone. Stop `aplypro-pfmp run` first. Prints one line per
    consumer: `{"consumer": ..., "records": n, "processed": n, "dead_lettered": n}`; exit 2 for an unknown one."""
    settings = PfmpSettings()
    spec = build_spec(settings)
    names = consumers or [s.consumer_name for s in spec.subscriptions]
    for name in names:
        try:
            report = asyncio.run(replay_subscription(spec, settings, name))
        except UnknownSubscription as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        typer.echo(json.dumps({"consumer": report.consumer, "records": report.records,
                               "processed": report.processed, "dead_lettered": report.dead_lettered}))


@app.command()
def status() -> None:
    """Print PFMP counts by status, as JSON."""

    async def go() -> dict[str, int]:
        settings = PfmpSettings()
        async with _db(settings) as (pool, _), pool.acquire() as conn:
            return await postgres.counts(conn)

    sys.stdout.write(json.dumps(asyncio.run(go())) + "\n")


cli_lifecycle.register(app)
cli_school_years.register(app)
cli_web.register(app)
cli_indicators.register(app)


def main() -> None:
    app()
