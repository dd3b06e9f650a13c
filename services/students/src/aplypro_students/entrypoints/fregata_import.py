"""`import-fregata --uai UAI [--school-year 2025] [--dry-run]`: one establishment from FREGATA (imports.md §3.2).

The last line printed is the same JSON summary as `import-sygne`; exit 1 when FREGATA failed (still down or
refusing after the retries, or an answer we cannot read) or the establishment is unknown, 2 on bad input.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.cli import service_pool
from aplypro_servicekit.logs import configure_logging

from aplypro_students.adapters.api_errors import (
    ApiAuthFailed,
    ApiBadPayload,
    ApiRequestRefused,
    ApiUnavailable,
)
from aplypro_students.adapters.csv_reader import CellError, parse_uai
from aplypro_students.adapters.fregata.client import FregataClient
from aplypro_students.adapters.fregata.settings import FregataSettings
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.reconcile import current_school_year
from aplypro_students.domain.report import InvalidFile
from aplypro_students.entrypoints import fast_loop
from aplypro_students.entrypoints.api_import import api_settings, failed_line, progress
from aplypro_students.entrypoints.service import MIGRATION_PACKAGES
from aplypro_students.service_layer.import_fregata import import_fregata

PARIS = ZoneInfo("Europe/Paris")  # "today" of a French school, for inferred closing dates
SOURCE = "fregata"


async def run_fregata_import(settings: StudentsSettings, fregata: FregataSettings, uai: str, school_year: int, *,
                             dry_run: bool) -> tuple[dict[str, Any], bool]:
    """(the summary to print, whether the import went through)."""
    today = datetime.now(PARIS).date()
    started = time.monotonic()
    async with service_pool(settings, "students", MIGRATION_PACKAGES) as (pool, _schema), \
            FregataClient(fregata) as api:
        try:
            report = (await import_fregata(pool, api, uai, school_year, today=today,
                                           topic=settings.topic(STUDENTS_EVENTS), dry_run=dry_run)).as_dict()
        except (ApiUnavailable, ApiBadPayload, ApiRequestRefused, ApiAuthFailed) as exc:
            return failed_line(SOURCE, uai, school_year, exc.code, str(exc)), False
        except InvalidFile as exc:  # the establishment is not in the reference data
            return failed_line(SOURCE, uai, school_year, exc.errors[0].code, exc.errors[0].reason), False
    typer.echo(progress(1, 1, report, time.monotonic() - started), err=True)
    return report, True


def import_fregata_command(
    uai: Annotated[str, typer.Option(help="The establishment (its UAI, FREGATA's `rne`).")],
    school_year: Annotated[int | None, typer.Option(help="Start year (2025 = 2025-2026); default: now.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Fetch and reconcile, then roll back: nothing written.")] = False,
) -> None:
    """Import students from FREGATA (imports.md §3.2); the last line is a JSON summary."""
    try:
        target = parse_uai(uai.strip())
    except CellError as exc:
        typer.echo(f"line 0, column uai: uai.format ({exc.reason})", err=True)
        raise typer.Exit(2) from None
    fregata = api_settings(FregataSettings, "APLYPRO_FREGATA_")
    settings = StudentsSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    year = school_year if school_year is not None else current_school_year(datetime.now(PARIS).date())
    summary, ok = fast_loop.run(run_fregata_import(settings, fregata, target, year, dry_run=dry_run))
    typer.echo(json.dumps(summary, ensure_ascii=False))
    if not ok:
        raise typer.Exit(1)
