"""import-all: every establishment of one students provider, resumable (imports.md §1, §7).

A run is a row of `import_runs`; each establishment it finishes is recorded, so a run that crashed is
continued by the next one (the same night) instead of starting over. An establishment that fails is
reported and retried by a re-run; refused credentials stop the run, since every later call would fail
the same way. The source is a port (`ImportOne`): this module knows no API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol
from uuid import UUID

import anyio
import asyncpg
import structlog

from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiBadPayload, ApiUnavailable
from aplypro_students.adapters.postgres_providers import establishments_of
from aplypro_students.adapters.postgres_runs import (
    claim_establishment,
    close_run,
    open_run,
    queue_establishments,
    record_outcome,
    try_lock_run,
    unlock_run,
)
from aplypro_students.domain.departures import MassDeparture
from aplypro_students.domain.report import InvalidFile

log = structlog.get_logger(__name__)
_COUNTS = ("students", "new", "changed", "schoolings_written", "events", "departures", "ine_not_found",
           "details_queued")


class ImportOne(Protocol):
    """One establishment and school year from a source, committed; returns its report (counts, reasons)."""

    async def __call__(self, uai: str, school_year: int, *, today: date) -> dict[str, Any]: ...


class RunInProgress(RuntimeError):
    code = "import_run_in_progress"


OnDone = Callable[[str, str, dict[str, Any]], None]  # (uai, outcome, report): the CLI's progress bar


@dataclass
class RunSummary:
    source: str
    school_year: int
    run_id: str = ""
    establishments: int = 0  # of the provider
    resumed: int = 0  # finished by an earlier run of this one
    done: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)  # {"uai", "reason"}
    stopped: str | None = None  # a reason that ended the run early (api_auth_failed)
    finished: bool = False
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "school_year": self.school_year, "run_id": self.run_id,
                "establishments": self.establishments, "resumed": self.resumed, "done": self.done,
                "failed": self.failed, "stopped": self.stopped, "finished": self.finished, **self.totals,
                "seconds": round(self.seconds, 1)}


class HelperRun(Protocol):
    """Worker processes beside this one, claiming the same run's establishments (entrypoints/import_workers.py)."""

    async def next_report(self) -> tuple[str, str, dict[str, Any]] | None:
        """(uai, outcome, report) of an establishment a helper finished; None once every helper has ended."""
        ...

    def stop(self) -> None:
        """No more claims (refused credentials): the helpers end after their establishments in progress."""
        ...

    def failed(self) -> int:
        """Helpers that ended on an error (their establishment in progress stays for a re-run)."""
        ...

    def close(self) -> None: ...


StartHelpers = Callable[[UUID], HelperRun]


async def import_all(pool: asyncpg.Pool, importer: ImportOne, source: str, school_year: int, *, today: date,
                     resume_hours: float = 20.0, concurrency: int = 4, on_done: OnDone | None = None,
                     helpers: StartHelpers | None = None) -> RunSummary:
    """Imports the establishments whose provider is `source` and that this run has not finished yet.

    `concurrency` establishments at once in this process; `helpers`, worker processes importing beside it:
    each establishment is queued `pending` in the run and claimed by one of them (FOR UPDATE SKIP LOCKED)."""
    summary = RunSummary(source, school_year, totals=dict.fromkeys(_COUNTS, 0))
    started = time.monotonic()
    async with pool.acquire() as lock_conn:
        if not await try_lock_run(lock_conn, source, school_year):
            raise RunInProgress(f"an import-all of {source} {school_year} is running")
        try:
            async with pool.acquire() as conn, conn.transaction():
                run_id, finished = await open_run(conn, source, school_year, resume_hours)
                uais = await establishments_of(conn, source)
                await queue_establishments(conn, run_id, [u for u in uais if u not in finished])
            summary.run_id, summary.establishments = str(run_id), len(uais)
            summary.resumed = len(finished & set(uais))
            log.info("import_all_started", source=source, school_year=school_year, run_id=str(run_id),
                     establishments=len(uais), resumed=summary.resumed)
            others = helpers(run_id) if helpers is not None else None

            def report(uai: str, outcome: str, report: dict[str, Any]) -> None:
                _count(summary, uai, outcome, report)
                if on_done is not None:
                    on_done(uai, outcome, report)
                if report.get("reason") == ApiAuthFailed.code:
                    summary.stopped = ApiAuthFailed.code  # every later call would be refused the same way
                    if others is not None:
                        others.stop()

            work = work_on_run(pool, importer, run_id, school_year, today=today, concurrency=concurrency,
                               on_report=report, should_stop=lambda: summary.stopped is not None)
            if others is None:
                await work
            else:
                try:
                    async with anyio.create_task_group() as group:
                        group.start_soon(_relay_reports, others, report)
                        await work
                    if others.failed() and summary.stopped is None:
                        summary.stopped = "import_worker_failed"
                finally:
                    others.close()
            async with pool.acquire() as conn:
                summary.finished = await close_run(conn, run_id)
        finally:
            await unlock_run(lock_conn, source, school_year)
    summary.seconds = time.monotonic() - started
    log.info("import_all_ended", source=source, school_year=school_year, run_id=summary.run_id, done=summary.done,
             failed=len(summary.failed), finished=summary.finished, seconds=round(summary.seconds, 1))
    return summary


async def work_on_run(pool: asyncpg.Pool, importer: ImportOne, run_id: UUID, school_year: int, *, today: date,
                      concurrency: int, on_report: OnDone, should_stop: Callable[[], bool]) -> None:
    """`concurrency` loops, each claiming the run's next pending establishment until none is left; the main
    process's and each helper's. A crash leaves its establishments `running`: the next invocation redoes them."""

    async def loop(scope: anyio.CancelScope) -> None:
        while not should_stop():
            async with pool.acquire() as conn:
                uai = await claim_establishment(conn, run_id)
            if uai is None:
                return
            outcome, report = await _import_one(importer, uai, school_year, today)
            async with pool.acquire() as conn:
                await record_outcome(conn, run_id, uai, outcome, report)
            on_report(uai, outcome, report)
            if report.get("reason") == ApiAuthFailed.code:
                scope.cancel()  # every later call would be refused the same way

    async with anyio.create_task_group() as group:
        for _ in range(max(1, concurrency)):
            group.start_soon(loop, group.cancel_scope)


async def _relay_reports(others: HelperRun, report: OnDone) -> None:
    while (done := await others.next_report()) is not None:
        report(*done)


async def _import_one(importer: ImportOne, uai: str, school_year: int, today: date) -> tuple[str, dict[str, Any]]:
    """(outcome, report): an establishment's failure is its report, never the run's end (but for credentials)."""
    try:
        report = await importer(uai, school_year, today=today)
    except InvalidFile as exc:  # the establishment is not in the reference data
        return "failed", {"reason": exc.errors[0].code, "detail": exc.errors[0].reason}
    except (ApiUnavailable, ApiBadPayload, ApiAuthFailed, MassDeparture) as exc:
        return "failed", {"reason": exc.code, "detail": str(exc)}
    except (LookupError, ValueError) as exc:  # a source's other errors with a stable code (e.g. a refused request)
        code = getattr(exc, "code", None)
        if not isinstance(code, str):
            raise  # a bug, not an answer: the run stops visibly and is continued after the fix
        return "failed", {"reason": code, "detail": str(exc)}
    skipped = {s.get("reason") for s in report.get("skipped", []) if "ine" not in s}
    # counts and reason codes only: the run table never stores INEs
    kept = {k: v for k, v in report.items() if isinstance(v, int | str) and k != "uai"}
    kept["skipped"] = len(report.get("skipped", []))
    kept["errors"] = len(report.get("errors", []))
    return ("skipped" if "summer_freeze" in skipped else "done"), kept


def _count(summary: RunSummary, uai: str, outcome: str, report: dict[str, Any]) -> None:
    if outcome == "failed":
        summary.failed.append({"uai": uai, "reason": report["reason"]})
        return
    summary.done += 1
    for key in _COUNTS:
        summary.totals[key] += int(report.get(key, 0) or 0)
