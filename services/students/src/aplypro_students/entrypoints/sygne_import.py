"""`import-sygne`: one establishment (`--uai`) or every one SYGNE serves (`--all`), progress on stderr.

Each establishment is its own transaction: one that fails (SYGNE down for it, unknown UAI) is reported and
the run goes on; refused credentials stop the run, since every later call would fail the same way.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any, Literal

import typer
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.cli import service_pool

from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiBadPayload, ApiUnavailable
from aplypro_students.adapters.postgres_sygne import sygne_establishments
from aplypro_students.adapters.sygne.client import SygneClient
from aplypro_students.adapters.sygne.settings import SygneSettings
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.departures import MassDeparture
from aplypro_students.domain.report import InvalidFile
from aplypro_students.entrypoints.api_import import api_settings, failed_line, progress
from aplypro_students.entrypoints.service import MIGRATION_PACKAGES
from aplypro_students.service_layer.import_report import COUNTS
from aplypro_students.service_layer.import_sygne import import_sygne


def sygne_settings() -> SygneSettings:
    """The APLYPRO_SYGNE_* settings, or exit 2 naming what is missing or wrong (never a value)."""
    return api_settings(SygneSettings, "APLYPRO_SYGNE_")


async def run_import(settings: StudentsSettings, sygne: SygneSettings, uais: list[str] | None,
                     school_year: int, *, today: date, dry_run: bool, mode: Literal["partial", "full"] = "partial",
                     force_departures: bool = False) -> tuple[dict[str, Any], bool]:
    """(the summary to print, whether every establishment went through); `uais` None means all."""
    topic = settings.topic(STUDENTS_EVENTS)
    single = uais is not None and len(uais) == 1
    reports: list[dict[str, Any]] = []
    failed: list[str] = []
    async with service_pool(settings, "students", MIGRATION_PACKAGES) as (pool, _schema), SygneClient(sygne) as api:
        if uais is None:
            async with pool.acquire() as conn:
                uais = await sygne_establishments(conn)
        for n, uai in enumerate(uais, start=1):
            started = time.monotonic()
            try:
                report = (await import_sygne(pool, api, uai, school_year, today=today, topic=topic,
                                             summer_freeze=sygne.summer_freeze, concurrency=sygne.concurrency,
                                             dry_run=dry_run, mode=mode, force_departures=force_departures,
                                             max_departure_share=settings.mass_departure_share)).as_dict()
            except (ApiUnavailable, ApiBadPayload, MassDeparture) as exc:
                report = failed_line("sygne", uai, school_year, exc.code, str(exc))
                failed.append(uai)
            except InvalidFile as exc:
                report = failed_line("sygne", uai, school_year, exc.errors[0].code, exc.errors[0].reason)
                failed.append(uai)
            except ApiAuthFailed as exc:
                typer.echo(f"{exc.code}: {exc}; run stopped", err=True)
                reports.append(failed_line("sygne", uai, school_year, exc.code, str(exc)))
                failed.append(uai)
                break
            reports.append(report)
            typer.echo(progress(n, len(uais), report, time.monotonic() - started), err=True)
    if single:
        return reports[0], not failed
    totals = {k: sum(int(r.get(k, 0)) for r in reports) for k in COUNTS}
    return {"source": "sygne", "school_year": school_year, "establishments": len(reports),
            "failed": failed, **totals, "dry_run": dry_run, "imports": reports}, not failed
