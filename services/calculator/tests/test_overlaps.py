"""Which PFMPs overlap a payable PFMP of their student (reason `overlaps`), and where the reason goes."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest
from aplypro_calculator.domain.overlaps import Period, overlapped
from aplypro_calculator.domain.requests import RequestFacts, blocking_reasons, evaluate

STUDENT, OTHER = UUID(int=1), UUID(int=2)


def period(n: int, start: date, end: date, status: str = "validated", *, student: UUID = STUDENT,
           deleted: bool = False) -> Period:
    return Period(UUID(int=100 + n), student, start, end, status, deleted)


@pytest.mark.parametrize(("start", "end", "found"), [
    (date(2025, 11, 21), date(2025, 11, 28), True),  # shares the last day
    (date(2025, 10, 1), date(2025, 11, 3), True),  # shares the first day
    (date(2025, 11, 10), date(2025, 11, 12), True),  # inside
    (date(2025, 11, 22), date(2025, 11, 28), False),  # the day after
])
def test_both_ends_are_included(start: date, end: date, found: bool) -> None:
    periods = [period(1, date(2025, 11, 3), date(2025, 11, 21)), period(2, start, end)]
    assert overlapped(periods) == ({UUID(int=101), UUID(int=102)} if found else set())


def test_only_a_live_payable_pfmp_of_the_same_student_counts() -> None:
    nov = (date(2025, 11, 3), date(2025, 11, 21))
    assert overlapped([period(1, *nov), period(2, *nov, "completed")]) == {UUID(int=102)}
    assert overlapped([period(1, *nov, "rectified"), period(2, *nov, "validated")]) == {UUID(int=101), UUID(int=102)}
    assert overlapped([period(1, *nov, deleted=True), period(2, *nov)]) == set()
    assert overlapped([period(1, *nov), period(2, *nov, student=OTHER)]) == set()


def test_overlaps_blocks_in_the_order_of_lifecycles_section_4() -> None:
    facts = RequestFacts(pfmp_status="validated", deleted=False, day_count=5, start_date=date(2025, 11, 3),
                         end_date=date(2025, 11, 21), amount_cents=None, priced=True, excluded=True,
                         pool_over_cap=False, paid_base_cents=None, negative_enabled=False, overlaps=True)
    assert blocking_reasons(facts) == ("pfmp_amount", "overlaps", "excluded_schooling")
    assert evaluate(facts).state == "incomplete"
