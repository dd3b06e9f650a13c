"""School years per academy (calculation.md §3.6): the range a PFMP's dates must lie in.

The academic calendar (academy → first and last day of each school year) is reference data loaded from a
file (adapters.csv_calendar). When an academy has no entry for a year, the fallbacks apply: 1 September Y →
31 August Y+1, Mayotte 23 August → 22 August, La Réunion 16 August → 15 August; two consecutive years never
share a day (the existing system's fallback ended on 1 September Y+1 inclusive, D14). A *report* on a
closed schooling replaces the end of the range (domain.reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

MAYOTTE = "43"  # academy codes (imports.md §6.1, features.md: 01–25, 27, 28, 31–33, 40, 41, 43, 44, 70)
LA_REUNION = "28"
# (month, day) of the first day of the fallback school year; the last day is the day before, a year later.
FALLBACK_START: dict[str, tuple[int, int]] = {MAYOTTE: (8, 23), LA_REUNION: (8, 16)}
DEFAULT_START = (9, 1)


class CalendarError(ValueError):
    """A calendar entry breaks a rule; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class YearRange:
    """First and last day (both included) of one school year for one academy."""

    first: date
    last: date

    def with_end(self, last: date) -> YearRange:
        return YearRange(self.first, last)


@dataclass(frozen=True)
class CalendarEntry:
    academy_code: str
    school_year: int  # start year: 2025 is 2025-2026
    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day <= self.first_day:
            raise CalendarError("calendar_inverted", "the last day must come after the first day")
        if self.first_day.year != self.school_year or self.last_day.year != self.school_year + 1:
            raise CalendarError("calendar_wrong_year",
                                "a school year Y starts in Y and ends in Y+1")


def fallback_range(school_year: int, academy_code: str | None = None) -> YearRange:
    """The range when the calendar has no entry for the academy and year."""
    month, day = FALLBACK_START.get(academy_code or "", DEFAULT_START)
    first = date(school_year, month, day)
    return YearRange(first, date(school_year + 1, month, day) - timedelta(days=1))


def school_year_range(school_year: int, academy_code: str | None = None,
                      calendar: Mapping[tuple[str, int], YearRange] | None = None) -> YearRange:
    """The calendar's range for the academy and year, else the academy's fallback."""
    if academy_code and calendar:
        known = calendar.get((academy_code, school_year))
        if known is not None:
            return known
    return fallback_range(school_year, academy_code)


def check_no_shared_day(entries: list[CalendarEntry]) -> None:
    """Two school years of one academy never share a day (a PFMP belongs to exactly one)."""
    by_academy: dict[str, list[CalendarEntry]] = {}
    for entry in entries:
        by_academy.setdefault(entry.academy_code, []).append(entry)
    for rows in by_academy.values():
        rows.sort(key=lambda e: e.school_year)
        for before, after in pairwise(rows):
            if before.school_year == after.school_year:
                raise CalendarError("calendar_duplicate", f"academy {before.academy_code} has school year "
                                    f"{before.school_year} twice")
            if after.first_day <= before.last_day:
                raise CalendarError("calendar_overlap", f"academy {before.academy_code}: school years "
                                    f"{before.school_year} and {after.school_year} share days")
