"""The décision d'attribution gates (lifecycles.md §3-§4, reasons 13-15) as pure rules."""

from __future__ import annotations

import uuid
from datetime import date

from aplypro_calculator.domain.decisions import (
    Decision,
    Span,
    decision_reasons,
    transferred,
    within_schooling_dates,
)
from aplypro_calculator.domain.requests import RequestFacts, evaluate

TODAY = date(2026, 3, 10)
OCT, OCT_END = date(2025, 10, 6), date(2025, 10, 17)
ISSUED, ABROGATED, WITHDRAWN = Decision(attribution=1), Decision(1, abrogation=1), Decision(1, withdrawal=1)


def span(decision: Decision = ISSUED, *, mef: str = "2473121133", uai: str = "0350001A", year: int = 2025,
         start: date | None = date(2025, 9, 1), end: date | None = None) -> Span:
    return Span(uuid.uuid4(), uai, mef, year, start, end, decision)


def reasons(mine: Span, *others: Span, start: date = OCT, end: date = OCT_END, recovery: bool = False) -> tuple[str, ...]:
    return decision_reasons(mine.schooling_id, [mine, *others], start, end, TODAY, recovery=recovery)


def test_a_schooling_without_a_decision_is_blocked_by_missing_attributive_decision() -> None:
    assert reasons(span(Decision())) == ("missing_attributive_decision",)
    assert reasons(span(ISSUED)) == ()
    # An abrogation or a retrait proves the DA even when its own announcement is late.
    assert reasons(span(Decision(abrogation=1))) == ()


def test_a_withdrawn_decision_blocks_with_attributive_decision_cancelled_and_nothing_releases_it() -> None:
    assert reasons(span(WITHDRAWN)) == ("attributive_decision_cancelled",)
    assert reasons(span(Decision(attribution=5, withdrawal=1))) == ("attributive_decision_cancelled",)
    assert reasons(span(Decision(withdrawal=1))) == ("attributive_decision_cancelled",)


def test_a_transferred_student_needs_the_other_decision_of_the_year_abrogated() -> None:
    # Première until January, then terminale: two MEFs in 2025, both DAs live.
    premiere = span(mef="2473121132", end=date(2026, 1, 4))
    terminale = span(start=date(2026, 1, 5))
    feb = (date(2026, 2, 2), date(2026, 2, 13))
    assert reasons(premiere, terminale) == ("needs_abrogated_attributive_decision",)
    assert reasons(terminale, premiere, start=feb[0], end=feb[1]) == ("needs_abrogated_attributive_decision",)
    # The première DA is abrogated: neither schooling is held back any longer.
    premiere = Span(premiere.schooling_id, premiere.uai, premiere.mef_code, 2025, premiere.start_date,
                    premiere.end_date, ABROGATED)
    assert reasons(premiere, terminale) == ()
    assert reasons(terminale, premiere, start=feb[0], end=feb[1]) == ()


def test_needs_abrogation_only_within_the_schooling_dates_and_against_a_live_decision_of_the_same_year() -> None:
    closed = span(mef="2473121132", end=date(2026, 1, 4))
    other = span(start=date(2026, 1, 5))
    # After its end: no abrogation needed (the PFMP is outside its dates, reason 11, not 14).
    assert reasons(closed, other, start=date(2026, 2, 2), end=date(2026, 2, 13)) == ("pfmp_outside_schooling_dates",)
    assert reasons(closed, span(WITHDRAWN, start=date(2026, 1, 5))) == ()  # the other DA was withdrawn
    assert reasons(closed, span(Decision(), start=date(2026, 1, 5))) == ()  # the other has no DA to abrogate
    assert reasons(closed, span(year=2024, start=date(2024, 9, 1))) == ()  # another year: not transferred
    # Same MEF, same establishment (a change of class): not a transfer.
    assert reasons(span(end=date(2026, 1, 4)), span(start=date(2026, 1, 5))) == ()
    # Another establishment, same MEF: a transfer.
    assert reasons(span(end=date(2026, 1, 4)), span(uai="0350002B", start=date(2026, 1, 5))) == (
        "needs_abrogated_attributive_decision",)


def test_a_recovery_pays_nothing_so_no_decision_gate_holds_it() -> None:
    assert reasons(span(WITHDRAWN), recovery=True) == ()
    assert reasons(span(Decision()), recovery=True) == ()


def test_within_schooling_dates_follows_lifecycles_section_3() -> None:
    def within(start: date | None, end: date | None, pfmp: tuple[date, date]) -> bool:
        return within_schooling_dates(span(start=start, end=end), *pfmp, TODAY)

    assert within(None, None, (OCT, OCT_END))  # no dates
    assert within(date(2025, 9, 1), None, (OCT, date(2026, 9, 30)))  # open: the end is not bounded
    assert within(None, None, (date(2020, 1, 1), OCT))
    assert within(None, date(2026, 6, 30), (date(2020, 1, 1), OCT))  # open without a start: no start bound
    assert not within(date(2025, 11, 1), None, (OCT, OCT_END))  # starts before an open schooling
    assert within(date(2025, 9, 1), date(2026, 1, 4), (OCT, OCT_END))  # closed, covering
    assert not within(date(2025, 9, 1), date(2025, 10, 10), (OCT, OCT_END))  # closed, ends inside the PFMP


def test_transferred_looks_at_the_pfmps_school_year_only() -> None:
    spans = [span(mef="2473121132", year=2024), span(year=2025)]
    assert not transferred(spans, 2025)
    assert transferred([*spans, span(mef="2473121132")], 2025)


def test_the_decision_gates_take_their_place_among_all_the_reasons() -> None:
    facts = RequestFacts(pfmp_status="validated", deleted=False, day_count=10, start_date=OCT, end_date=OCT_END,
                         amount_cents=20000, priced=True, excluded=True, pool_over_cap=False, paid_base_cents=None,
                         negative_enabled=False, overlaps=True,
                         decision_gates=("missing_attributive_decision", "attributive_decision_cancelled"))
    verdict = evaluate(facts)
    assert (verdict.state, verdict.reasons) == ("incomplete", (
        "overlaps", "missing_attributive_decision", "attributive_decision_cancelled", "excluded_schooling"))
