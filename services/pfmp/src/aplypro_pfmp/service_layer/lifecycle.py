"""Adding, editing and deleting a PFMP (lifecycles.md §1), each recorded in the audit trail with its user id.

The PFMP's latest payment request decides (domain.guards): an edit is refused while a request is with the
ASP, goes through a rectification (PfmpRectified) once the PFMP is paid, and is a plain PfmpRecorded
otherwise; a deletion is refused once the ASP integrated the PFMP. The student's lock and the overlap
trigger keep one period, one payment (issue 9) on edit as on record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import asyncpg
from aplypro_contracts import PfmpRecorded, PfmpRectified
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.adapters import lifecycle_sql as sql
from aplypro_pfmp.adapters import postgres, school_years_sql
from aplypro_pfmp.domain.guards import EditPath, check_deletable, edit_path
from aplypro_pfmp.domain.pfmp import Pfmp, PfmpError
from aplypro_pfmp.service_layer.use_cases import (
    AUDIT_ACTION,
    OVERLAP_MESSAGE,
    PRODUCER,
    Outcome,
    Recorded,
    record_in_schooling,
    to_state,
)


def require_user(user_id: str) -> str:
    user_id = user_id.strip()
    if not user_id:
        raise PfmpError("missing_user", "the user id is required (audit trail)")
    return user_id


@dataclass(frozen=True)
class EditPfmp:
    """Command: new dates and/or day count for one PFMP (None keeps the current value)."""

    pfmp_id: UUID
    user_id: str
    start_date: date | None = None
    end_date: date | None = None
    day_count: int | None = None
    clear_day_count: bool = False  # back to pending (refused for a validated PFMP)


@dataclass(frozen=True)
class Edited:
    pfmp: Pfmp
    path: EditPath | None  # None: nothing changed


async def add_pfmp(conn: Connection, schooling_id: UUID, start: date, end: date, day_count: int | None,
                   user_id: str, *, topic: str, uai: str | None = None) -> Recorded:
    """Staff add one PFMP to a schooling; the same period twice edits its day count or changes nothing.
    With `uai` (the web: the user's establishment), another establishment's schooling is not found."""
    user_id = require_user(user_id)
    schooling = await postgres.schooling_by_id(conn, schooling_id)
    if schooling is None or (uai is not None and schooling["uai"] != uai):
        raise PfmpError("unknown_schooling", "no schooling with this id" + ("" if uai is None else
                                                                           " in this establishment"))
    recorded = await record_in_schooling(conn, schooling, start, end, day_count, topic=topic)
    if recorded.outcome is not Outcome.UNCHANGED:
        await sql.audit(conn, user_id, AUDIT_ACTION[recorded.outcome], recorded.pfmp)
    return recorded


async def load_locked(conn: Connection, pfmp_id: UUID) -> tuple[Pfmp, dict[str, object]]:
    """The live PFMP under its student's lock (the lock first: the order every writer takes)."""
    found = await sql.pfmp_for_update(conn, pfmp_id)
    if found is None:
        raise PfmpError("unknown_pfmp", f"no live PFMP {pfmp_id}")
    await postgres.lock_student(conn, found[0].student_id)
    found = await sql.pfmp_for_update(conn, pfmp_id)  # re-read under the lock
    if found is None:
        raise PfmpError("unknown_pfmp", f"no live PFMP {pfmp_id}")
    return found


async def edit_pfmp(conn: Connection, command: EditPfmp, *, topic: str) -> Edited:
    user_id = require_user(command.user_id)
    pfmp, schooling = await load_locked(conn, command.pfmp_id)
    latest, _ = await sql.latest_request(conn, pfmp.pfmp_id)
    path = edit_path(pfmp.status, latest)
    start = command.start_date or pfmp.start_date
    end = command.end_date or pfmp.end_date
    day_count = None if command.clear_day_count else (
        command.day_count if command.day_count is not None else pfmp.day_count)
    year = await school_years_sql.year_range(conn, schooling)  # the academy's calendar, report included
    if path is EditPath.RECTIFICATION:
        edited = pfmp.rectify(start=start, end=end, day_count=day_count, school_year=year)
    else:
        edited = pfmp.edit(start=start, end=end, day_count=day_count, school_year=year)
        if edited is pfmp:
            return Edited(pfmp, None)
    await _check_period(conn, edited)
    await _save(conn, edited)
    event: PfmpRecorded | PfmpRectified
    if path is EditPath.RECTIFICATION:
        event = PfmpRectified(producer=PRODUCER, initiated_by="user", requested_by=user_id, pfmp=to_state(edited))
    else:
        event = PfmpRecorded(producer=PRODUCER, pfmp=to_state(edited))
    await write_outbox(conn, [event_row(topic, edited.student_id, event)])
    await sql.audit(conn, user_id, "rectify" if path is EditPath.RECTIFICATION else "edit", edited)
    return Edited(edited, path)


async def delete_pfmp(conn: Connection, pfmp_id: UUID, user_id: str, *, topic: str) -> Pfmp:
    user_id = require_user(user_id)
    pfmp, _ = await load_locked(conn, pfmp_id)
    latest, known = await sql.latest_request(conn, pfmp.pfmp_id)
    check_deletable(latest, known)
    deleted = pfmp.delete()
    await sql.save(conn, deleted)
    # The full state with deleted=true: the calculator frees the amount, documents drop it.
    await write_outbox(conn, [event_row(topic, deleted.student_id,
                                        PfmpRecorded(producer=PRODUCER, pfmp=to_state(deleted)))])
    await sql.audit(conn, user_id, "delete", deleted)
    return deleted


async def _check_period(conn: Connection, pfmp: Pfmp) -> None:
    """Natural identity and one period, one payment, as on record (the trigger guards other writers)."""
    if await sql.same_period_other(conn, pfmp):
        raise PfmpError("pfmp_same_period", "the schooling already has a PFMP with these dates")
    if await sql.overlapping_other(conn, pfmp) is not None:
        raise PfmpError("pfmp_overlaps", OVERLAP_MESSAGE)


async def _save(conn: Connection, pfmp: Pfmp) -> None:
    try:
        async with conn.transaction():  # a savepoint: the caller may report and go on
            await sql.save(conn, pfmp)
    except asyncpg.ExclusionViolationError:
        raise PfmpError("pfmp_overlaps", OVERLAP_MESSAGE) from None
