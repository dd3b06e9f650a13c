"""Reason 11 of lifecycles.md §4, `pfmp_outside_schooling_dates`, as a pure rule: the PFMP must lie within its
schooling's dates (§3), a report (SchoolingExtended) replacing the end of a closed schooling."""

from __future__ import annotations

import uuid
from datetime import date

from aplypro_calculator.domain.decisions import (
    Decision,
    DecisionReason,
    Span,
    decision_reasons,
    within_schooling_dates,
)
from aplypro_calculator.domain.requests import RequestFacts, evaluate

TODAY = date(2026, 12, 4)
ISSUED = Decision(attribution=1)
JULY = (date(2026, 7, 6), date(2026, 7, 17))  # after the schooling's end, still in school year 2025


def closed(report: date | None = None, *, start: date | None = date(2025, 9, 1),
           end: date | None = date(2026, 6, 30)) -> Span:
    return Span(uuid.uuid4(), "0350001A", "2473121133", 2025, start, end, ISSUED, report)


def reasons(span: Span, period: tuple[date, date] = JULY, *, recovery: bool = False) -> tuple[DecisionReason, ...]:
    return decision_reasons(span.schooling_id, [span], *period, TODAY, recovery=recovery)


def test_a_pfmp_after_the_end_of_a_closed_schooling_is_outside_its_dates() -> None:
    assert reasons(closed()) == ("pfmp_outside_schooling_dates",)
    assert reasons(closed(), (date(2026, 6, 1), date(2026, 6, 30))) == ()  # its last day included


def test_a_report_replaces_the_end_and_releases_the_pfmp() -> None:
    assert reasons(closed(report=date(2026, 7, 17))) == ()  # the report's day included
    assert reasons(closed(report=date(2026, 7, 16))) == ("pfmp_outside_schooling_dates",)


def test_a_pfmp_before_the_start_is_outside_even_for_an_open_schooling() -> None:
    open_one = closed(end=None, start=date(2025, 11, 3))
    assert reasons(open_one, (date(2025, 10, 6), date(2025, 10, 17))) == ("pfmp_outside_schooling_dates",)
    assert reasons(open_one, (date(2026, 7, 6), date(2026, 9, 17))) == ()  # an open schooling bounds no end


def test_a_schooling_without_dates_or_without_a_start_bounds_nothing_it_does_not_know() -> None:
    assert within_schooling_dates(closed(start=None, end=None), *JULY, TODAY)
    assert reasons(closed(start=None, end=None, report=None), (date(2024, 1, 1), date(2024, 1, 2))) == ()
    assert reasons(closed(start=None, end=None)) == ()


def test_the_dates_gate_blocks_the_request_beside_the_others_and_not_a_recovery() -> None:
    no_da = Span(uuid.uuid4(), "0350001A", "2473121133", 2025, date(2025, 9, 1), date(2026, 6, 30), Decision())
    assert reasons(no_da) == ("pfmp_outside_schooling_dates", "missing_attributive_decision")
    assert reasons(closed(), recovery=True) == ()
    facts = RequestFacts(pfmp_status="validated", deleted=False, day_count=10, start_date=JULY[0], end_date=JULY[1],
                         amount_cents=20000, priced=True, excluded=False, pool_over_cap=False, paid_base_cents=None,
                         negative_enabled=False, decision_gates=reasons(closed()))
    assert (evaluate(facts).state, evaluate(facts).reasons) == ("incomplete", ("pfmp_outside_schooling_dates",))
