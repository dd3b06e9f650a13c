"""School-year ranges by academy (imports.md §6.3, calculation.md §3.6): the academic calendar, else the fallback.

A school year Y (2025 = 2025-2026) runs from the day after the previous summer holidays to the last day of
its own summer holidays (La Réunion: the austral winter holidays). The open-data calendar gives each summer
as the day classes end and the day they resume (its `end_date`), so the last day of the holidays is the day
before that resumption, and year Y starts on the resumption day of the summer before it. Each bound falls
back on its own when that summer is not loaded; both bounds come from the same summer, so two consecutive
years neither overlap nor leave a gap, loaded or not.

Fallback (the calendar not loaded for that academy and year): 1 September → 31 August; Mayotte (43) from 23
August, La Réunion (28) from 16 August. The existing system ended on 1 September Y+1 inclusive, so two years
shared a day (calculation.md D14): here the last day is the day before the next year's first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

# First day (month, day) of the fallback school year by academy.
_FALLBACK_START = {"43": (8, 23), "28": (8, 16)}


def fallback_first_day(school_year: int, academy_code: str | None = None) -> date:
    month, day = _FALLBACK_START.get(academy_code or "", (9, 1))
    return date(school_year, month, day)


@dataclass(frozen=True)
class Summer:
    """One academy's holidays between two school years, as the open data gives them."""

    classes_end: date  # the first day of the holidays
    classes_resume: date  # the first day of the next school year

    @property
    def last_day(self) -> date:
        return self.classes_resume - timedelta(days=1)


@dataclass(frozen=True)
class AcademyCalendar:
    """The summers loaded for one academy, by the school year they close (2025: the summer of 2026)."""

    academy_code: str | None
    summers: Mapping[int, Summer] = field(default_factory=dict)

    def first_day(self, school_year: int) -> date:
        before = self.summers.get(school_year - 1)
        return before.classes_resume if before else fallback_first_day(school_year, self.academy_code)

    def last_day(self, school_year: int) -> date:
        own = self.summers.get(school_year)
        return own.last_day if own else fallback_first_day(school_year + 1, self.academy_code) - timedelta(days=1)

    def school_year_of(self, day: date) -> int:
        """The school year whose range contains `day` (the ranges tile time, so there is exactly one)."""
        year = day.year if day >= fallback_first_day(day.year, self.academy_code) else day.year - 1
        for candidate in (year, year - 1, year + 1):  # a loaded summer moves a bound by weeks, never a year
            if self.first_day(candidate) <= day <= self.last_day(candidate):
                return candidate
        raise ValueError("the calendar leaves this day outside every school year")  # a summer of > 1 year


def fallback(academy_code: str | None = None) -> AcademyCalendar:
    return AcademyCalendar(academy_code)
