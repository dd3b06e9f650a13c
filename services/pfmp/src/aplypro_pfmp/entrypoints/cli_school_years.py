"""`aplypro-pfmp` school-year commands: load the academic calendar, set or remove a schooling's report."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

import typer
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_servicekit.cli import service_pool

from aplypro_pfmp.adapters import school_years_sql
from aplypro_pfmp.adapters.csv_calendar import SAMPLE, read_calendar
from aplypro_pfmp.adapters.csv_file import InvalidFile
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.reports import ReportSet, SetReport, set_report

PARIS = ZoneInfo("Europe/Paris")  # "today" for schools is the French calendar day


def register(app: typer.Typer) -> None:
    @app.command("load-school-years")
    def load_school_years(
        file: Annotated[Path | None, typer.Argument(help="`academie;annee_scolaire;premier_jour;dernier_jour`; "
                                                         "without it, the sample shipped with the service.")] = None,
    ) -> None:
        """Load the academic calendar (first and last day of each school year per academy), replacing the
        rows of the same academy and year. An academy or year without a row uses the fallback (1 September →
        31 August; Mayotte 23 August → 22 August; La Réunion 16 August → 15 August). Prints {"school_years": n}."""
        try:
            entries = read_calendar(file or SAMPLE)
        except InvalidFile as exc:
            for err in exc.errors:
                typer.echo(f"line {err.line}: {err.reason}", err=True)
            typer.echo(f"nothing loaded: {len(exc.errors)} error(s)", err=True)
            raise typer.Exit(2) from None

        async def go() -> None:
            settings = PfmpSettings()
            async with service_pool(settings, "pfmp", ["aplypro_pfmp"]) as (pool, _), pool.acquire() as conn, \
                    conn.transaction():
                await school_years_sql.upsert_calendar(conn, entries)

        asyncio.run(go())
        typer.echo(json.dumps({"school_years": len(entries)}))

    @app.command("set-report")
    def set_report_command(
        schooling_id: Annotated[UUID, typer.Argument(help="Internal id of the schooling.")],
        user: Annotated[str, typer.Option("--user", help="Internal user id of the confirming director (audit).")],
        date: Annotated[datetime | None, typer.Option("--date", formats=["%Y-%m-%d"],
                                                      help="The new end of the schooling's range.")] = None,
        remove: Annotated[bool, typer.Option("--remove", help="Remove the report.")] = False,
    ) -> None:
        """Set, change (`--date D`) or remove (`--remove`) the report of a closed schooling of a past school year,
        confirmed by the director (`--user`). Prints {"schooling_id", "extended_end_date", "version", "changed"};
        refused: `<code>: <message>` on stderr, exit 1."""
        if (date is None) == (not remove):
            typer.echo("usage: give either --date D or --remove", err=True)
            raise typer.Exit(2)
        command = SetReport(schooling_id, None if remove or date is None else date.date(), user)

        async def go() -> ReportSet:
            settings = PfmpSettings()
            async with service_pool(settings, "pfmp", ["aplypro_pfmp"]) as (pool, _), pool.acquire() as conn, \
                    conn.transaction():
                return await set_report(conn, command, today=datetime.now(PARIS).date(),
                                        topic=settings.topic(PFMP_EVENTS))

        try:
            done = asyncio.run(go())
        except PfmpError as exc:
            typer.echo(f"{exc.code}: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(json.dumps({"schooling_id": str(done.schooling_id), "version": done.version,
                               "extended_end_date": None if done.extended_end_date is None
                               else done.extended_end_date.isoformat(), "changed": done.changed}))
