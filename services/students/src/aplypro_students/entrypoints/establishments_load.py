"""`load-establishments`: the directory in one transaction, then the schoolings of the establishments it changed
re-published in chunks (`service_layer/republish_schoolings.py`), each its own transaction, a progress bar on
stderr. The last line of stdout is the JSON summary. A crash between chunks loses nothing: loading the
directory again goes on where it stopped (and re-publishes nothing more once everything went out)."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime
from typing import Any

from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.cli import service_pool
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from aplypro_students.config import StudentsSettings
from aplypro_students.domain.reference import Establishment
from aplypro_students.entrypoints import fast_loop
from aplypro_students.entrypoints.nightly import PARIS
from aplypro_students.entrypoints.service import MIGRATION_PACKAGES
from aplypro_students.service_layer.reference import load_establishments
from aplypro_students.service_layer.republish_schoolings import first_school_year, pending, republish_chunk


def load_and_republish(settings: StudentsSettings, establishments: list[Establishment]) -> dict[str, Any]:
    topic = settings.topic(STUDENTS_EVENTS)
    first_year = first_school_year(datetime.now(PARIS).date(), settings.establishment_republish_years)
    correlation_id = uuid.uuid4()

    async def work() -> dict[str, Any]:
        async with service_pool(settings, "students", MIGRATION_PACKAGES) as (pool, _schema):
            async with pool.acquire() as conn:
                async with conn.transaction():
                    loaded = await load_establishments(conn, establishments, topic=topic)
                total = await pending(conn, first_year)
                republished = 0
                with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), TimeRemainingColumn(), console=Console(file=sys.stderr),
                              transient=False) as progress:
                    task = progress.add_task("schoolings re-published", total=total)
                    while True:
                        async with conn.transaction():
                            count = await republish_chunk(conn, topic, first_year,
                                                          limit=settings.establishment_republish_chunk,
                                                          correlation_id=correlation_id)
                        if not count:
                            break
                        republished += count
                        progress.update(task, advance=count)
        return {"establishments": loaded.loaded, "changed": loaded.changed, "schoolings_republished": republished,
                "from_school_year": first_year}

    return fast_loop.run(work())
