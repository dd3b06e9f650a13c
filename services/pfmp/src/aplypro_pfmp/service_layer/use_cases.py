"""Recording and validating PFMPs: state and outgoing events in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import asyncpg
from aplypro_contracts import PfmpRecorded, PfmpState, PfmpValidated
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.adapters import postgres
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
    )


class Outcome(StrEnum):
    RECORDED = "recorded"  # a new PFMP
    EDITED = "edited"  # the PFMP of this period took another day count
    UNCHANGED = "unchanged"  # the PFMP of this period already holds it: nothing written, no event


@dataclass(frozen=True)
class Recorded:
    pfmp: Pfmp
    outcome: Outcome


async def record_pfmp(conn: Connection, command: RecordPfmp, *, topic: str) -> Recorded:
    """Record a PFMP, or edit the one of the same period (student, schooling, start, end).

    One period, one payment: a PFMP sharing a day with another live PFMP of the student is refused
    (`pfmp_overlaps`). The student's lock, held until the caller's transaction ends, serializes concurrent
    imports, so the rank, the identity and the overlap are read and written as one step.
    """
    schooling = await postgres.find_schooling(conn, command.ine, command.uai, command.school_year)
    if schooling is None:
        raise PfmpError("unknown_schooling", "no schooling of this student in this establishment and year")
    await postgres.lock_student(conn, schooling["student_id"])
    existing = await postgres.same_period(conn, schooling["schooling_id"], command.start_date, command.end_date)
    if existing is not None:
        return await _edit(conn, existing, command.day_count, topic)
    pfmp = Pfmp.record(
        pfmp_id=uuid.uuid4(), schooling_id=schooling["schooling_id"], student_id=schooling["student_id"],
        school_year=command.school_year, start=command.start_date, end=command.end_date,
        day_count=command.day_count, rank=await postgres.next_rank(conn, schooling["schooling_id"]),
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


async def validate_completed(conn: Connection, *, uai: str | None, today: date, topic: str) -> int:
    """The director validates every completed PFMP that has ended; returns how many."""
    validated = [p.validate(today) for p in await postgres.completed_pfmps(conn, uai, today)]
    await postgres.mark_validated(conn, [p.pfmp_id for p in validated])
    rows = [event_row(topic, p.student_id, PfmpValidated(producer=PRODUCER, pfmp=to_state(p))) for p in validated]
    await write_outbox(conn, rows)
    return len(validated)


__all__ = ["PFMP_EVENTS", "Outcome", "RecordPfmp", "Recorded", "record_pfmp", "validate_completed"]
