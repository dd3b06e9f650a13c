"""One period, one payment (lifecycles.md §4, reason 12 `overlaps`): which PFMPs share a day with another
PFMP of their student that may be paid.

The pfmp service refuses overlapping PFMPs when they are recorded; this is the calculator's guard in case
one ever gets through (written before that check existed, or by another path). What the user must do:
delete or correct one of the two (lifecycles.md §4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from uuid import UUID

PAYABLE: frozenset[str] = frozenset({"validated", "rectified"})  # the existing system counted `validated` only


@dataclass(frozen=True)
class Period:
    pfmp_id: UUID
    student_id: UUID
    start_date: date
    end_date: date
    status: str
    deleted: bool


def overlapped(periods: Iterable[Period]) -> set[UUID]:
    """The PFMPs sharing at least one day (both ends included) with another live PFMP of their student
    (any schooling, any year) that is validated or rectified."""
    by_student: dict[UUID, list[Period]] = defaultdict(list)
    for p in periods:
        if not p.deleted:
            by_student[p.student_id].append(p)
    found: set[UUID] = set()
    for own in by_student.values():
        for p in own:
            if any(o.pfmp_id != p.pfmp_id and o.status in PAYABLE and o.start_date <= p.end_date
                   and p.start_date <= o.end_date for o in own):
                found.add(p.pfmp_id)
    return found
