"""Recording PFMPs: state and outgoing events in one transaction (validation: service_layer.validation)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import asyncpg
from aplypro_contracts import PfmpRecorded, PfmpState
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.adapters import postgres, school_years_sql
from aplypro_pfmp.domain.pfmp import Pfmp, PfmpError

PRODUCER = "pfmp"


@dataclass(frozen=True)
class RecordPfmp:
    """Command: a school declares a PFMP of one of its students."""

    ine: str
    uai: str
    school_year: int
    start_date: date
    end_date: date
    day_count: int | None


def to_state(pfmp: Pfmp) -> PfmpState:
    return PfmpState(
        pfmp_id=pfmp.pfmp_id, schooling_id=pfmp.schooling_id, student_id=pfmp.student_id,
        start_date=pfmp.start_date, end_date=pfmp.end_date, day_count=pfmp.day_count,
        status=pfmp.status.value, created_seq=pfmp.created_seq, rank=pfmp.rank, version=pfmp.version,
        deleted=pfmp.deleted,
    )


class Outcome(StrEnum):
    RECORDED = "recorded"  # a new PFMP
    EDITED = "edited"  # the PFMP of this period took another day count
    UNCHANGED = "unchanged"  # the PFMP of this period already holds it: nothing written, no event


AUDIT_ACTION = {Outcome.RECORDED: "record", Outcome.EDITED: "edit"}  # as named in pfmp_actions


@dataclass(frozen=True)
class Recorded:
    pfmp: Pfmp
    outcome: Outcome


def unknown_schooling() -> PfmpError:
    return PfmpError("unknown_schooling", "no schooling of this student in this establishment and year")


async def record_pfmp(conn: Connection, command: RecordPfmp, *, topic: str) -> Recorded:
    """Record a PFMP, or edit the one of the same period (student, schooling, start, end).

    One period, one payment: a PFMP sharing a day with another live PFMP of the student is refused
    (`pfmp_overlaps`). The student's lock, held until the caller's transaction ends, serializes concurrent
    imports, so the rank, the identity and the overlap are read and written as one step.
    """
    schooling = await postgres.find_schooling(conn, command.ine, command.uai, command.school_year)
    if schooling is None:
        raise unknown_schooling()
    return await record_in_schooling(conn, schooling, command.start_date, command.end_date, command.day_count,
                                     topic=topic)


async def record_in_schooling(conn: Connection, schooling: dict[str, Any], start: date, end: date,
                              day_count: int | None, *, topic: str) -> Recorded:
    """record_pfmp once the schooling is known (one PFMP for a whole class starts here)."""
    await postgres.lock_student(conn, schooling["student_id"])
    existing = await postgres.same_period(conn, schooling["schooling_id"], start, end)
    if existing is not None:
        return await _edit(conn, existing, day_count, topic)
    pfmp = Pfmp.record(
        pfmp_id=uuid.uuid4(), schooling_id=schooling["schooling_id"], student_id=schooling["student_id"],
        school_year=await school_years_sql.year_range(conn, schooling), start=start, end=end,
        day_count=day_count, rank=await postgres.next_rank(conn, schooling["schooling_id"]),
    )
    if await postgres.overlapping(conn, pfmp.student_id, pfmp.start_date, pfmp.end_date) is not None:
        raise PfmpError("pfmp_overlaps", OVERLAP_MESSAGE)
    try:
        pfmp = await postgres.insert_pfmp(conn, pfmp)
    except asyncpg.ExclusionViolationError:  # the database's guard: a writer that skipped the lock
        raise PfmpError("pfmp_overlaps", OVERLAP_MESSAGE) from None
    event = PfmpRecorded(producer=PRODUCER, pfmp=to_state(pfmp))
    await write_outbox(conn, [event_row(topic, pfmp.student_id, event)])  # keyed by student: one pool, one order
    return Recorded(pfmp, Outcome.RECORDED)


OVERLAP_MESSAGE = "another PFMP of the student shares at least one day with this period: correct or delete one of the two"


async def _edit(conn: Connection, existing: Pfmp, day_count: int | None, topic: str) -> Recorded:
    pfmp = existing.set_day_count(day_count)  # a validated PFMP: refused, reported by the import
    if pfmp is existing:
        return Recorded(pfmp, Outcome.UNCHANGED)
    await postgres.update_day_count(conn, pfmp)
    event = PfmpRecorded(producer=PRODUCER, pfmp=to_state(pfmp))  # created or edited: the same event
    await write_outbox(conn, [event_row(topic, pfmp.student_id, event)])
    return Recorded(pfmp, Outcome.EDITED)


__all__ = ["AUDIT_ACTION", "PFMP_EVENTS", "Outcome", "RecordPfmp", "Recorded", "record_in_schooling", "record_pfmp"]
