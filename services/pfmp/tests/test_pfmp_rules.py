"""PFMP rules: dates inside the school year, day-count bounds, validation."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aplypro_pfmp.domain.pfmp import Pfmp, PfmpError, Status, calendar_days, school_year_range


def record(start: date, end: date, day_count: int | None, school_year: int = 2025) -> Pfmp:
    return Pfmp.record(pfmp_id=uuid.uuid4(), schooling_id=uuid.uuid4(), student_id=uuid.uuid4(),
                       school_year=school_year, start=start, end=end, day_count=day_count, rank=1)


def test_school_years_never_share_a_day() -> None:
    assert school_year_range(2025)[1] < school_year_range(2026)[0]
    assert (school_year_range(2026)[0] - school_year_range(2025)[1]).days == 1


@pytest.mark.parametrize(("days", "accepted"), [(8, False), (7, False), (6, True), (5, True), (1, True), (0, False)])
def test_day_count_is_bounded_by_the_calendar_days_of_the_period(days: int, accepted: bool) -> None:
    # calculation.md example 16: 8–13 October is 6 calendar days.
    start, end = date(2025, 10, 8), date(2025, 10, 13)
    assert calendar_days(start, end) == 6
    if accepted:
        assert record(start, end, days).day_count == days
    else:
        with pytest.raises(PfmpError):
            record(start, end, days)


def test_a_pfmp_without_day_count_is_pending_and_with_one_completed() -> None:
    assert record(date(2025, 10, 1), date(2025, 10, 10), None).status is Status.PENDING
    assert record(date(2025, 10, 1), date(2025, 10, 10), 5).status is Status.COMPLETED


@pytest.mark.parametrize(("start", "end", "code"), [
    (date(2025, 10, 10), date(2025, 10, 1), "dates_inverted"),
    (date(2025, 8, 25), date(2025, 9, 5), "outside_school_year"),
    (date(2026, 8, 20), date(2026, 9, 2), "outside_school_year"),
])
def test_bad_dates_are_refused_with_a_stable_code(start: date, end: date, code: str) -> None:
    with pytest.raises(PfmpError) as caught:
        record(start, end, 1)
    assert caught.value.code == code


def test_only_an_ended_completed_pfmp_can_be_validated() -> None:
    pfmp = record(date(2025, 10, 1), date(2025, 10, 10), 5)
    with pytest.raises(PfmpError, match="ended"):
        pfmp.validate(today=date(2025, 10, 9))
    assert pfmp.validate(today=date(2025, 10, 10)).status is Status.VALIDATED
    with pytest.raises(PfmpError) as caught:
        record(date(2025, 10, 1), date(2025, 10, 10), None).validate(today=date(2026, 1, 1))
    assert caught.value.code == "not_completed"
