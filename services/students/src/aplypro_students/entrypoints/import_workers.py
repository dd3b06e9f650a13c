"""import-all's helper processes (APLYPRO_STUDENTS_IMPORT_WORKERS): each opens its own pool and source client
and claims the run's pending establishments beside the main process (service_layer/import_all.py), so the
HTTP client's and the row normaliser's CPU is spread over the cores. Their reports come back on a queue; a
helper whose parent is gone stops claiming (the next invocation redoes what it left `running`).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from datetime import date
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any
from uuid import UUID

import anyio
import structlog

from aplypro_students.service_layer.import_all import HelperRun, StartHelpers

log = structlog.get_logger(__name__)
Report = tuple[str, str, dict[str, Any]]


class ProcessHelpers:
    """`count` spawned helper processes on one run."""

    def __init__(self, source: str, school_year: int, today: date, run_id: UUID, count: int) -> None:
        context = multiprocessing.get_context("spawn")  # no inherited event loop, pool or sockets
        self._reports: Queue[Report] = context.Queue()
        self._stop: Event = context.Event()
        self._processes: list[SpawnProcess] = [
            context.Process(target=_helper_main, daemon=True, name=f"import-all-{n}",
                            args=(source, school_year, today.isoformat(), str(run_id), self._reports, self._stop,
                                  os.getpid()))
            for n in range(1, count + 1)]
        for process in self._processes:
            process.start()

    async def next_report(self) -> Report | None:
        return await anyio.to_thread.run_sync(self._next, abandon_on_cancel=True)

    def _next(self) -> Report | None:
        while True:
            try:
                return self._reports.get(timeout=0.2)
            except queue.Empty:
                if not any(p.is_alive() for p in self._processes):
                    try:  # a report put just before its process ended
                        return self._reports.get(timeout=0.2)
                    except queue.Empty:
                        return None

    def stop(self) -> None:
        self._stop.set()

    def failed(self) -> int:
        return sum(1 for p in self._processes if p.exitcode not in (0, None))

    def close(self) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(30)
            if process.is_alive():
                process.terminate()
                process.join(5)


def process_helpers(source: str, school_year: int, today: date, count: int) -> StartHelpers | None:
    """`count` helper processes for each run, or None for none."""
    if count < 1:
        return None

    def start(run_id: UUID) -> HelperRun:
        return ProcessHelpers(source, school_year, today, run_id, count)

    return start


def _helper_main(source: str, school_year: int, today: str, run_id: str, reports: Queue[Report], stop: Event,
                 parent: int) -> None:
    from aplypro_students.entrypoints import fast_loop

    fast_loop.run(_helper(source, school_year, date.fromisoformat(today), UUID(run_id), reports, stop, parent))


async def _helper(source: str, school_year: int, today: date, run_id: UUID, reports: Queue[Report], stop: Event,
                  parent: int) -> None:
    from aplypro_servicekit.cli import service_pool
    from aplypro_servicekit.logs import configure_logging

    from aplypro_students.config import StudentsSettings
    from aplypro_students.entrypoints.import_sources import source as source_named
    from aplypro_students.entrypoints.service import MIGRATION_PACKAGES
    from aplypro_students.service_layer.import_all import work_on_run

    settings = StudentsSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    size = settings.import_concurrency + 1
    async with service_pool(settings, "students", MIGRATION_PACKAGES, size=size) as (pool, _schema):
        async with source_named(source).open(settings, pool) as importer:
            await work_on_run(pool, importer, run_id, school_year, today=today,
                              concurrency=settings.import_concurrency,
                              on_report=lambda uai, outcome, report: reports.put((uai, outcome, report)),
                              should_stop=lambda: stop.is_set() or os.getppid() != parent)
    log.info("import_all_helper_ended", run_id=str(run_id))
