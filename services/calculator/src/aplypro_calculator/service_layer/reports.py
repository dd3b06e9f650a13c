"""Following the reports pfmp sets on schoolings (SchoolingExtended, calculation.md §3.6).

A report replaces the end of a closed schooling's dates, so a PFMP after the end is no longer blocked by
`pfmp_outside_schooling_dates` (and a removed report blocks it again). Each change re-evaluates the open
requests of every pool of the student, like a DA event (service_layer.decisions), in the caller's transaction
inside the one subscription keyed by student.
"""

from __future__ import annotations

from aplypro_contracts import SchoolingExtended
from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters import postgres, postgres_reports
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_stale import count_stale
from aplypro_calculator.service_layer.events import Cause
from aplypro_calculator.service_layer.newest import newest_per_schooling


async def apply_reports(conn: Connection, events: list[SchoolingExtended], causes: dict[PoolKey, Cause]) -> None:
    """Store the newest report of each schooling; an older or replayed one is counted as stale."""
    held = await postgres_reports.held_versions(conn, sorted({e.schooling_id for e in events}))
    newest, dropped = newest_per_schooling(events, held)
    await count_stale(conn, dropped)
    if not newest:
        return
    await postgres_reports.store_reports(conn, list(newest.values()))
    last_of_student = {e.student_id: e for e in newest.values()}
    for key in await postgres.pools_with_open_requests(conn, list(last_of_student)):
        causes.setdefault(key, Cause.of(last_of_student[key[0]]))
