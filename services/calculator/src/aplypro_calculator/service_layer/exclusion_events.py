"""Exclusions set once, in the students service: its ExclusionChanged events keep the calculator's list the same
(calculation.md §4), and the pools a change reaches are repriced with the batch.

A row's changes arrive in order on its UAI's partition; a redelivered or older change (lower version) is dropped.
A MEF row under a whole-establishment row already here (added with `aplypro-calculator exclusions`) changes
nothing: what it covers is excluded already.
"""

from __future__ import annotations

from collections import Counter

import structlog
from aplypro_contracts import ExclusionChanged
from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters import cross_student_lock, postgres_exclusion_versions, postgres_requests
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_stale import count_stale
from aplypro_calculator.domain.exclusions import ExclusionConflict, ExclusionRow
from aplypro_calculator.service_layer.events import Cause

log = structlog.get_logger(__name__)


async def apply_exclusion_changes(conn: Connection, changes: list[ExclusionChanged],
                                  causes: dict[PoolKey, Cause]) -> None:
    """Apply each change in batch order; the pools of every row that changed go into `causes`."""
    dropped: Counter[str] = Counter()
    for event in changes:
        row = ExclusionRow.of(event.uai, event.mef_code, event.school_year)
        if not await postgres_exclusion_versions.advance(conn, row, event.version):
            dropped[event.event_type] += 1
            continue
        try:
            keys = await change_exclusion(conn, row, excluded=event.excluded)
        except ExclusionConflict:
            log.info("exclusion_already_covered", uai=row.uai, mef_code=row.mef, school_year=row.school_year)
            continue
        log.info("exclusion_applied", uai=row.uai, mef_code=row.mef, school_year=row.school_year,
                 excluded=event.excluded, changed=keys is not None)
        for key in keys or ():
            causes.setdefault(key, Cause.of(event))
    await count_stale(conn, dropped)


async def change_exclusion(conn: Connection, row: ExclusionRow, *, excluded: bool) -> list[PoolKey] | None:
    """Add the row (ExclusionConflict under a whole-establishment row) or lift it: the pools it reaches, or None
    when the list did not change. The operators' commands and the students' events both go through here."""
    await cross_student_lock.lock(conn, change=True)  # then `pools_of` sees every evaluation committed
    if excluded:
        (await postgres_requests.load_exclusions(conn)).add(row)  # raises on a conflict
        changed = await postgres_requests.add_exclusion(conn, row)
    else:
        changed = await postgres_requests.remove_exclusion(conn, row)
    return await postgres_requests.pools_of(conn, row) if changed else None
