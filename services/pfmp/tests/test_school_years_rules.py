"""School years per academy and the report (calculation.md §3.6), as pure rules and the calendar file."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from aplypro_pfmp.adapters.csv_calendar import SAMPLE, read_calendar
from aplypro_pfmp.adapters.csv_file import InvalidFile
from aplypro_pfmp.domain.pfmp import Pfmp, PfmpError, check_dates
from aplypro_pfmp.domain.reports import ReportFacts, check_report
from aplypro_pfmp.domain.school_years import (
    LA_REUNION,
    MAYOTTE,
    CalendarEntry,
    CalendarError,
    YearRange,
    fallback_range,
    school_year_range,
)


@pytest.mark.parametrize(("academy", "first", "last"), [
    (None, date(2025, 9, 1), date(2026, 8, 31)),
    ("14", date(2025, 9, 1), date(2026, 8, 31)),
    (MAYOTTE, date(2025, 8, 23), date(2026, 8, 22)),
    (LA_REUNION, date(2025, 8, 16), date(2026, 8, 15)),
])
def test_the_fallback_range_depends_on_the_academy(academy: str | None, first: date, last: date) -> None:
    assert fallback_range(2025, academy) == YearRange(first, last)


@pytest.mark.parametrize("academy", [None, MAYOTTE, LA_REUNION])
def test_two_fallback_years_never_share_a_day_nor_leave_one_out(academy: str | None) -> None:
    assert fallback_range(2026, academy).first - fallback_range(2025, academy).last == timedelta(days=1)


def test_the_calendar_entry_of_the_academy_and_year_wins_over_the_fallback() -> None:
    calendar = {("14", 2025): YearRange(date(2025, 9, 2), date(2026, 7, 31))}
    assert school_year_range(2025, "14", calendar) == YearRange(date(2025, 9, 2), date(2026, 7, 31))
    assert school_year_range(2026, "14", calendar) == fallback_range(2026)  # another year: the fallback
    assert school_year_range(2025, MAYOTTE, calendar) == fallback_range(2025, MAYOTTE)


def test_a_pfmp_of_la_reunion_may_start_mid_august_but_not_in_metropolitan_france() -> None:
    start, end = date(2025, 8, 18), date(2025, 8, 29)
    check_dates(start, end, fallback_range(2025, LA_REUNION))
    with pytest.raises(PfmpError) as caught:
        check_dates(start, end, fallback_range(2025))
    assert caught.value.code == "outside_school_year"
    with pytest.raises(PfmpError):  # La Réunion's 2024 year ended on 15 August 2025
        check_dates(start, end, fallback_range(2024, LA_REUNION))


def test_a_pfmp_is_recorded_within_its_academy_range() -> None:
    pfmp = Pfmp.record(pfmp_id=uuid.uuid4(), schooling_id=uuid.uuid4(), student_id=uuid.uuid4(),
                       school_year=fallback_range(2025, MAYOTTE), start=date(2026, 8, 17), end=date(2026, 8, 22),
                       day_count=5, rank=1)
    with pytest.raises(PfmpError):
        pfmp.edit(start=date(2026, 8, 17), end=date(2026, 8, 23), day_count=5,
                  school_year=fallback_range(2025, MAYOTTE))


def test_the_shipped_sample_calendar_reads() -> None:
    entries = read_calendar(SAMPLE)
    assert {(e.academy_code, e.school_year) for e in entries} >= {("14", 2025), (LA_REUNION, 2025)}


def test_a_calendar_whose_years_share_days_or_have_inverted_dates_is_refused(tmp_path: Path) -> None:
    header = "academie;annee_scolaire;premier_jour;dernier_jour\n"
    overlap = tmp_path / "overlap.csv"
    overlap.write_text(header + "14;2024-2025;2024-09-01;2025-09-01\n14;2025-2026;2025-09-01;2026-08-31\n")
    with pytest.raises(InvalidFile) as caught:
        read_calendar(overlap)
    assert "share days" in caught.value.errors[0].reason
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "14;2025;2026-08-31;2025-09-01\n1;2025;2025-09-01;2026-08-31\n")
    with pytest.raises(InvalidFile) as caught:
        read_calendar(bad)
    assert [e.line for e in caught.value.errors] == [2, 3]
    with pytest.raises(CalendarError):
        CalendarEntry("14", 2025, date(2024, 9, 1), date(2026, 8, 31))  # not the year it names


NOW = YearRange(date(2026, 9, 1), date(2027, 8, 31))  # "today" is in 2026-2027
PAST = ReportFacts(start_date=date(2025, 9, 1), end_date=date(2026, 6, 30), has_decision=True, abrogated=False,
                   current_year=NOW, latest_pfmp_end=date(2026, 6, 12), report=None)


def refusal(facts: ReportFacts, new: date | None) -> str | None:
    try:
        check_report(facts, new)
    except PfmpError as exc:
        return exc.code
    return None


def test_a_report_extends_a_closed_schooling_of_a_past_year_with_its_da() -> None:
    assert refusal(PAST, date(2026, 9, 15)) is None


@pytest.mark.parametrize(("change", "new", "code"), [
    ({"end_date": None}, date(2026, 9, 15), "schooling_open"),
    ({"has_decision": False}, date(2026, 9, 15), "missing_attributive_decision"),
    ({"abrogated": True}, date(2026, 9, 15), "attributive_decision_abrogated"),
    ({"start_date": date(2026, 9, 1)}, date(2027, 9, 15), "schooling_in_current_year"),
    ({}, date(2026, 6, 30), "report_not_after_end"),
    ({"latest_pfmp_end": date(2026, 9, 15)}, date(2026, 9, 15), "report_before_pfmp"),
    ({"latest_pfmp_end": date(2026, 9, 15)}, date(2026, 9, 10), "report_before_pfmp"),
    ({}, None, "no_report"),
    ({"report": date(2026, 9, 20), "latest_pfmp_end": date(2026, 9, 12)}, None, "report_in_use"),
])
def test_each_report_guard_refuses_with_its_code(change: dict[str, object], new: date | None, code: str) -> None:
    facts = ReportFacts(**{**PAST.__dict__, **change})
    assert refusal(facts, new) == code


def test_a_report_is_removed_when_no_pfmp_needs_it() -> None:
    assert refusal(ReportFacts(**{**PAST.__dict__, "report": date(2026, 9, 20)}), None) is None
