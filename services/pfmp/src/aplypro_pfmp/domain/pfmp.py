"""A PFMP and its rules: day-count bounds, school-year range, validation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from uuid import UUID

from aplypro_pfmp.domain.school_years import YearRange, fallback_range


class PfmpError(ValueError):
    """A broken PFMP rule; `code` is stable (shown to schools, used as dead-letter reason)."""

    code = "pfmp_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Status(StrEnum):
    PENDING = "pending"  # no day count yet
    COMPLETED = "completed"  # day count entered, not validated
    VALIDATED = "validated"
    RECTIFIED = "rectified"  # corrected after payment; a new request carries the corrected total


def school_year_range(school_year: int) -> tuple[date, date]:
    """National fallback range (no academy known): 1 Sept Y to 31 Aug Y+1 (never sharing a day)."""
    fallback = fallback_range(school_year)
    return fallback.first, fallback.last


def calendar_days(start: date, end: date) -> int:
    return (end - start).days + 1


def overlaps(start: date, end: date, other_start: date, other_end: date) -> bool:
    """Two periods share at least one day (both ends included)."""
    return start <= other_end and other_start <= end


def check_dates(start: date, end: date, school_year: int | YearRange) -> None:
    """`school_year`: the range of the class's school year for the establishment's academy, report included
    (domain.school_years); a bare year means the national fallback."""
    if end < start:
        raise PfmpError("dates_inverted", "the end date is before the start date")
    year = school_year if isinstance(school_year, YearRange) else fallback_range(school_year)
    if start < year.first or end > year.last:
        raise PfmpError("outside_school_year", "the PFMP must lie within the class's school year")


def check_day_count(day_count: int | None, start: date, end: date, *, rectification: bool = False) -> None:
    """1 ≤ day count ≤ calendar days of the period, both ends included (0 only in a rectification)."""
    if day_count is None:
        return
    if day_count < (0 if rectification else 1):
        raise PfmpError("day_count_too_low", "the day count must be at least 1")
    if day_count > calendar_days(start, end):
        raise PfmpError("day_count_above_period", "the day count exceeds the calendar days of the period")


@dataclass(frozen=True)
class Pfmp:
    pfmp_id: UUID
    schooling_id: UUID
    student_id: UUID
    start_date: date
    end_date: date
    day_count: int | None
    status: Status
    rank: int
    created_seq: int = 0
    version: int = 1  # grows with each change; every event about the PFMP carries it
    deleted: bool = False

    @classmethod
    def record(cls, *, pfmp_id: UUID, schooling_id: UUID, student_id: UUID, school_year: int | YearRange, start: date,
               end: date, day_count: int | None, rank: int) -> Pfmp:
        check_dates(start, end, school_year)
        check_day_count(day_count, start, end)
        status = Status.PENDING if day_count is None else Status.COMPLETED
        return cls(pfmp_id, schooling_id, student_id, start, end, day_count, status, rank)

    def set_day_count(self, day_count: int | None) -> Pfmp:
        """The same period with another day count (lifecycles.md §1): pending ⇄ completed; a validated PFMP
        is changed only through a rectification, never here."""
        if day_count == self.day_count:
            return self
        if self.status in (Status.VALIDATED, Status.RECTIFIED):
            raise PfmpError("pfmp_validated",
                            "the PFMP is validated: its day count changes only through a rectification")
        check_day_count(day_count, self.start_date, self.end_date)
        status = Status.PENDING if day_count is None else Status.COMPLETED
        return replace(self, day_count=day_count, status=status, version=self.version + 1)

    def validate(self, today: date) -> Pfmp:
        if self.status in (Status.VALIDATED, Status.RECTIFIED):
            return self
        if self.status is not Status.COMPLETED:
            raise PfmpError("not_completed", "only a PFMP with a day count can be validated")
        if self.end_date > today:
            raise PfmpError("not_finished", "a PFMP can be validated only once it has ended")
        return replace(self, status=Status.VALIDATED, version=self.version + 1)

    def edit(self, *, start: date, end: date, day_count: int | None, school_year: int | YearRange) -> Pfmp:
        """New dates and day count without a state change other than pending ⇄ completed (lifecycles.md §1).

        A validated PFMP keeps its status: its day count can change (the request is re-evaluated) but never
        be cleared. The caller has checked the payment request (guards.edit_path).
        """
        if (start, end, day_count) == (self.start_date, self.end_date, self.day_count):
            return self
        check_dates(start, end, school_year)
        status: Status
        if self.status in (Status.VALIDATED, Status.RECTIFIED):
            if day_count is None:
                raise PfmpError("pfmp_validated",
                                "the PFMP is validated: its day count cannot be cleared")
            check_day_count(day_count, start, end)
            status = self.status
        else:
            check_day_count(day_count, start, end)
            status = Status.PENDING if day_count is None else Status.COMPLETED
        return replace(self, start_date=start, end_date=end, day_count=day_count, status=status,
                       version=self.version + 1)

    def rectify(self, *, start: date, end: date, day_count: int | None, school_year: int | YearRange) -> Pfmp:
        """The correction of a paid PFMP ("gérer un indu"): 0 days allowed (a full recovery)."""
        if day_count is None:
            raise PfmpError("missing_day_count", "a rectification needs a day count (0 for a full recovery)")
        if self.status not in (Status.VALIDATED, Status.RECTIFIED):
            raise PfmpError("not_validated", "only a validated PFMP can be rectified")
        check_dates(start, end, school_year)
        check_day_count(day_count, start, end, rectification=True)
        return replace(self, start_date=start, end_date=end, day_count=day_count, status=Status.RECTIFIED,
                       version=self.version + 1)

    def delete(self) -> Pfmp:
        return replace(self, deleted=True, version=self.version + 1)
