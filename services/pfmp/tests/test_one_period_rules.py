"""The rules behind a re-import: periods sharing a day, and a new day count for the same period."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aplypro_pfmp.domain.pfmp import Pfmp, PfmpError, Status, overlaps

NOV = (date(2025, 11, 3), date(2025, 11, 21))


def pfmp(day_count: int | None) -> Pfmp:
    return Pfmp.record(pfmp_id=uuid.uuid4(), schooling_id=uuid.uuid4(), student_id=uuid.uuid4(), school_year=2025,
                       start=NOV[0], end=NOV[1], day_count=day_count, rank=1)


@pytest.mark.parametrize(("start", "end", "shared"), [
    (date(2025, 11, 21), date(2025, 11, 28), True), (date(2025, 10, 1), date(2025, 11, 3), True),
    (date(2025, 11, 10), date(2025, 11, 12), True), (date(2025, 10, 1), date(2025, 12, 1), True),
    (date(2025, 11, 22), date(2025, 11, 28), False), (date(2025, 10, 1), date(2025, 11, 2), False),
])
def test_periods_overlap_when_they_share_a_day_both_ends_included(start: date, end: date, shared: bool) -> None:
    assert overlaps(*NOV, start, end) is shared
    assert overlaps(start, end, *NOV) is shared


def test_the_same_day_count_changes_nothing_and_another_one_is_a_new_version() -> None:
    completed = pfmp(12)
    assert completed.set_day_count(12) is completed
    edited = completed.set_day_count(10)
    assert (edited.day_count, edited.status, edited.version, edited.rank) == (10, Status.COMPLETED, 2, 1)
    cleared = edited.set_day_count(None)  # completed → pending is allowed (lifecycles.md §1)
    assert (cleared.status, cleared.version) == (Status.PENDING, 3)
    with pytest.raises(PfmpError) as caught:
        completed.set_day_count(40)
    assert caught.value.code == "day_count_above_period"


def test_a_validated_pfmp_keeps_its_day_count() -> None:
    validated = pfmp(12).validate(date(2026, 1, 5))
    assert validated.set_day_count(12) is validated
    for day_count in (10, None):
        with pytest.raises(PfmpError) as caught:
            validated.set_day_count(day_count)
        assert caught.value.code == "pfmp_validated"
