"""What one import changed, counted for the operator: schoolings opened and closed, class changes, unchanged."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from uuid import UUID

from aplypro_students.domain.model import Schooling
from aplypro_students.domain.reconcile import Placement


@dataclass(frozen=True)
class ChangeCounts:
    schoolings_opened: int = 0  # new to us (even when it arrives already ended), or reopened
    schoolings_closed: int = 0  # given an end date by this import (a new one that arrives ended included)
    class_changes: int = 0  # students whose open schooling elsewhere was closed by a newer one (§5.5, §5.6)
    unchanged: int = 0  # records that changed neither their schooling nor their student

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def count_changes(placements: Collection[Placement], existing: Collection[Schooling], planned: Collection[Schooling],
                  touched_students: Collection[UUID]) -> ChangeCounts:
    """`planned`: the schoolings written (new or changed); `touched_students`: new or changed identities."""
    before = {s.schooling_id: s for s in existing}
    listed = {(p.student_id, p.class_id) for p in placements}
    students = {p.student_id for p in placements}  # a departure (full mode) is no class change
    opened = closed = 0
    moved: set[UUID] = set()
    for s in planned:
        old = before.get(s.schooling_id)
        if old is None or (old.end_date is not None and s.end_date is None):
            opened += 1
        if s.end_date is not None and (old is None or old.end_date is None):
            closed += 1
            if old is not None and s.student_id in students and (s.student_id, s.class_id) not in listed:
                moved.add(s.student_id)  # closed because the student is now listed in another class
    written = {(s.student_id, s.class_id) for s in planned}
    touched = set(touched_students)
    unchanged = sum(1 for key in listed if key not in written and key[0] not in touched)
    return ChangeCounts(opened, closed, len(moved), unchanged)
