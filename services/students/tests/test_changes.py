"""What an import changed, counted for the operator's summary: opened, closed, class changes, unchanged."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from uuid import UUID

from aplypro_students.domain.changes import ChangeCounts, count_changes
from aplypro_students.domain.model import Identity, Schooling, SchoolingRecord, SchoolingStatus
from aplypro_students.domain.reconcile import Placement

STUDENT, OTHER, CLASS_A, CLASS_B = (uuid.uuid4() for _ in range(4))
IDENTITY = Identity("000111223AB", "HADDAD", ("Mehdi",), date(2007, 11, 2))


def placed(student: UUID, class_id: UUID) -> Placement:
    return Placement(student, class_id, SchoolingRecord(2, IDENTITY, 2025, "TLE", "2473121133",
                                                        SchoolingStatus.STUDENT, date(2025, 9, 1), None))


def schooling(student: UUID, class_id: UUID, end: date | None = None) -> Schooling:
    return Schooling(uuid.uuid4(), student, class_id, 2025, SchoolingStatus.STUDENT, date(2025, 9, 1), end)


def test_a_new_schooling_is_opened_and_one_arriving_ended_is_also_closed() -> None:
    fresh, leaver = schooling(STUDENT, CLASS_A), schooling(OTHER, CLASS_A, date(2025, 12, 19))
    counts = count_changes([placed(STUDENT, CLASS_A), placed(OTHER, CLASS_A)], [], [fresh, leaver], set())
    assert counts == ChangeCounts(schoolings_opened=2, schoolings_closed=1)


def test_a_class_change_opens_one_closes_the_other_and_counts_the_student_once() -> None:
    old = schooling(STUDENT, CLASS_A)
    new = schooling(STUDENT, CLASS_B)
    closed = replace(old, end_date=date(2025, 10, 5))
    assert count_changes([placed(STUDENT, CLASS_B)], [old], [closed, new], set()) == ChangeCounts(1, 1, 1, 0)


def test_a_reopened_schooling_is_opened_and_a_leaver_listed_with_its_end_is_not_a_class_change() -> None:
    ended = schooling(STUDENT, CLASS_A, date(2025, 10, 1))
    current = schooling(OTHER, CLASS_A)
    counts = count_changes([placed(STUDENT, CLASS_A), placed(OTHER, CLASS_A)], [ended, current],
                           [replace(ended, end_date=None), replace(current, end_date=date(2025, 11, 1))], set())
    assert counts == ChangeCounts(schoolings_opened=1, schoolings_closed=1, class_changes=0)


def test_unchanged_means_neither_the_schooling_nor_the_student_changed() -> None:
    same, renamed = schooling(STUDENT, CLASS_A), schooling(OTHER, CLASS_A)
    counts = count_changes([placed(STUDENT, CLASS_A), placed(OTHER, CLASS_A)], [same, renamed], [], {OTHER})
    assert counts == ChangeCounts(unchanged=1)
