"""The nightly import-all (imports.md §1: "we import every API establishment nightly, outside the summer
freeze"), at APLYPRO_STUDENTS_IMPORT_HOUR (Europe/Paris); unset, the service never imports on its own."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import structlog
from aplypro_servicekit.runtime import ServiceRuntime

from aplypro_students.config import StudentsSettings
from aplypro_students.domain.reconcile import current_school_year
from aplypro_students.entrypoints.import_sources import SourceUnavailable, source
from aplypro_students.entrypoints.import_workers import process_helpers
from aplypro_students.service_layer.import_all import OnDone, RunInProgress, RunSummary, import_all

PARIS = ZoneInfo("Europe/Paris")
log = structlog.get_logger(__name__)


def next_run(now: datetime, hour: int) -> datetime:
    """The next `hour`:00 in Paris strictly after `now` (timezone-aware)."""
    local = now.astimezone(PARIS)
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= local:
        at = (at + timedelta(days=1)).replace(hour=hour)  # a DST day keeps the wall-clock hour
    return at


async def run_source(pool: asyncpg.Pool, settings: StudentsSettings, name: str, school_year: int, *, today: date,
                     on_done: OnDone | None = None, workers: int | None = None) -> dict[str, Any]:
    """One import-all of a source; SourceUnavailable / RunInProgress propagate. A frozen day imports nothing.
    `workers`: processes (default APLYPRO_STUDENTS_IMPORT_WORKERS), this one and helpers."""
    chosen = source(name)
    if chosen.frozen(today):
        return {"source": name, "school_year": school_year, "skipped": "summer_freeze"}
    helpers = process_helpers(name, school_year, today, (workers or settings.import_workers) - 1)
    async with chosen.open(settings, pool) as importer:
        summary: RunSummary = await import_all(pool, importer, name, school_year, today=today,
                                               resume_hours=settings.import_resume_hours,
                                               concurrency=settings.import_concurrency, on_done=on_done,
                                               helpers=helpers)
    return summary.as_dict()


async def nightly_import(runtime: ServiceRuntime) -> None:
    """Background task of the service process: sleeps until the hour, then imports each configured source."""
    settings = runtime.settings
    if not isinstance(settings, StudentsSettings) or settings.import_hour is None:
        return
    while True:
        at = next_run(datetime.now(PARIS), settings.import_hour)
        await asyncio.sleep((at - datetime.now(PARIS)).total_seconds())
        if runtime.pool is None:
            continue
        today = datetime.now(PARIS).date()
        for name in settings.import_sources:
            try:
                result = await run_source(runtime.pool, settings, name, current_school_year(today), today=today)
            except (SourceUnavailable, RunInProgress) as exc:
                log.error("nightly_import_not_run", source=name, reason=exc.code, detail=str(exc))
                continue
            log.info("nightly_import_done", **{k: v for k, v in result.items() if not isinstance(v, list | dict)},
                     failed=len(result.get("failed", [])))
