"""When the confirmed director may abrogate a DA (documents.md §5.2), as pure rules."""

from __future__ import annotations

import uuid
from datetime import date

from aplypro_pfmp.adapters.decisions_sql import Span
from aplypro_pfmp.domain.abrogation import abrogation_refusal

TODAY = date(2026, 3, 2)


def span(start: date, end: date | None, year: int = 2025) -> Span:
    return Span(uuid.uuid4(), year, start, end)


def test_a_closed_schooling_superseded_in_its_year_is_abrogeable() -> None:
    closed = span(date(2025, 9, 1), date(2026, 1, 4))
    for newer in (span(date(2026, 1, 5), None), span(date(2025, 9, 1), date(2026, 2, 1)),
                  span(date(2025, 10, 1), date(2025, 12, 1))):  # open, ends later, starts later
        assert abrogation_refusal(closed, [closed, newer], TODAY) is None


def test_an_open_schooling_or_one_without_a_newer_one_of_its_year_is_not() -> None:
    closed = span(date(2025, 9, 1), date(2026, 1, 4))
    assert abrogation_refusal(closed, [closed], TODAY) == "abrogation_not_due"
    assert abrogation_refusal(closed, [closed, span(date(2026, 9, 1), None, year=2026)], TODAY) == "abrogation_not_due"
    assert abrogation_refusal(closed, [closed, span(date(2025, 8, 25), date(2025, 12, 1))], TODAY) == (
        "abrogation_not_due")
    ends_later = span(date(2025, 9, 1), date(2026, 3, 31))  # closes after today: still open
    assert abrogation_refusal(ends_later, [ends_later, span(date(2026, 4, 1), None)], TODAY) == (
        "abrogation_schooling_open")
    assert abrogation_refusal(span(date(2025, 9, 1), None), [], TODAY) == "abrogation_schooling_open"
