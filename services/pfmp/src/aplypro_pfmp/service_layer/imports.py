"""Importing a PFMP file: every row recorded, edited or left unchanged, or the whole file refused.

Re-importing a file is a no-op: each row finds the PFMP of its period (student, schooling, start, end)
and is counted `unchanged`; a row repeated inside the file too. A row giving that period another day count
edits the PFMP (not for a validated one: the row is refused).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
from aplypro_contracts import PfmpRecorded
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox
from aplypro_servicekit.record_size import RecordTooLarge

from aplypro_pfmp.adapters import import_sql, lifecycle_sql, postgres, school_years_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.import_plan import ImportPlan, Planner
from aplypro_pfmp.service_layer.use_cases import (
    AUDIT_ACTION,
    PRODUCER,
    Outcome,
    RecordPfmp,
    record_in_schooling,
    to_state,
    unknown_schooling,
)

IMPORT_USER = "import-csv"  # when the caller names nobody


@dataclass(frozen=True)
class RowRefused:
    line: int
    code: str
    message: str  # never a value of the row: it may reach a terminal or a log

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}: {self.message}"


@dataclass
class ImportSummary:
    counts: Counter[Outcome] = field(default_factory=Counter)
    refused: list[RowRefused] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {outcome.value: self.counts[outcome] for outcome in Outcome}


async def import_pfmps(conn: Connection, lines: Sequence[tuple[int, RecordPfmp]], *, topic: str,
                      user_id: str = IMPORT_USER) -> ImportSummary:
    """Record every row in the caller's transaction; the caller rolls back when any row is refused.

    The students of the file are locked first, in one order (their slots, at most 1,024 locks), so that two
    imports sharing students wait for each other instead of deadlocking. Then a few statements for the whole
    file (national files hold 20,000-60,000 rows): read what the rows need, decide every row in memory
    (service_layer.import_plan), write. Should the write itself fail (an event over the record size limit,
    or the overlap trigger: a writer that skipped the locks), the file is recorded again row by row, which
    names the line.
    """
    keys = list(dict.fromkeys((c.ine, c.uai, c.school_year) for _, c in lines))
    found = await import_sql.find_schoolings(conn, keys)
    schoolings = [found.get((c.ine, c.uai, c.school_year)) for _, c in lines]
    await postgres.lock_students(conn, {s["student_id"] for s in found.values()})
    planner = await _planner(conn, lines, schoolings)
    summary = ImportSummary()
    for (line, command), schooling in zip(lines, schoolings, strict=True):
        try:
            outcome = planner.decide(schooling, command.start_date, command.end_date, command.day_count)
        except PfmpError as exc:
            summary.refused.append(RowRefused(line, exc.code, str(exc)))
        else:
            summary.counts[outcome] += 1
    try:
        async with conn.transaction():  # a savepoint: undone before the row-by-row path
            await _write(conn, planner.plan, topic, user_id)
    except (asyncpg.ExclusionViolationError, RecordTooLarge):
        return await _row_by_row(conn, lines, schoolings, topic=topic, user_id=user_id)
    return summary


async def _planner(conn: Connection, lines: Sequence[tuple[int, RecordPfmp]],
                   schoolings: Sequence[dict[str, Any] | None]) -> Planner:
    """What the rows are decided against, read once the students are locked."""
    known = list({s["schooling_id"]: s for s in schoolings if s is not None}.values())
    periods = list(dict.fromkeys((s["schooling_id"], c.start_date, c.end_date)
                                 for (_, c), s in zip(lines, schoolings, strict=True) if s is not None))
    await import_sql.lock_periods(conn, periods)  # first: a PFMP a row edits is read locked
    return Planner(live=await import_sql.live_pfmps(conn, list({s["student_id"] for s in known})),
                   last_ranks=await import_sql.last_ranks(conn, [s["schooling_id"] for s in known]),
                   year_ranges=await school_years_sql.year_ranges(conn, known))


async def _write(conn: Connection, plan: ImportPlan, topic: str, user_id: str) -> None:
    """The plan in five statements (and the outbox's NOTIFY); events keyed by student, in file order."""
    seqs = await import_sql.insert_pfmps(conn, list(plan.new.values())) if plan.new else {}
    if plan.edited:
        await import_sql.update_day_counts(conn, list(plan.edited.values()))
    if not plan.changes:
        return
    changed = [pfmp if pfmp.pfmp_id not in seqs else replace(pfmp, created_seq=seqs[pfmp.pfmp_id])
               for _, pfmp in plan.changes]
    await write_outbox(conn, [event_row(topic, pfmp.student_id, PfmpRecorded(producer=PRODUCER, pfmp=to_state(pfmp)))
                              for pfmp in changed])
    await import_sql.audit(conn, user_id, [(AUDIT_ACTION[outcome], pfmp)
                                           for (outcome, _), pfmp in zip(plan.changes, changed, strict=True)])


async def _row_by_row(conn: Connection, lines: Sequence[tuple[int, RecordPfmp]],
                      schoolings: Sequence[dict[str, Any] | None], *, topic: str, user_id: str) -> ImportSummary:
    """Each row recorded alone in its own savepoint (the single-PFMP path): slow, but a failure at write
    time is reported on its line."""
    summary = ImportSummary()
    for (line, command), schooling in zip(lines, schoolings, strict=True):
        try:
            async with conn.transaction():  # a refused row leaves nothing behind, so the others are checked
                if schooling is None:
                    raise unknown_schooling()
                recorded = await record_in_schooling(conn, schooling, command.start_date, command.end_date,
                                                     command.day_count, topic=topic)
                summary.counts[recorded.outcome] += 1
                if recorded.outcome is not Outcome.UNCHANGED:  # who recorded or edited it (audit trail)
                    await lifecycle_sql.audit(conn, user_id, AUDIT_ACTION[recorded.outcome], recorded.pfmp)
        except (PfmpError, RecordTooLarge) as exc:
            summary.refused.append(RowRefused(line, exc.code, str(exc)))
    return summary
