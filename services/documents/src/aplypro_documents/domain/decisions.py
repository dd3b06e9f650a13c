"""When a schooling's DA is to be abrogated (documents.md §5.2, lifecycles.md §3). Pure rules, no I/O.

A schooling is closed when its end date is on or before today. Its DA is abrogated once it is closed,
when the student has a more recent schooling in the same school year: one that is open, ends later or
starts later.
"""

from dataclasses import dataclass
from datetime import date
from uuid import UUID


@dataclass(frozen=True, slots=True)
class SchoolingSpan:
    schooling_id: UUID
    school_year: int
    start_date: date | None
    end_date: date | None
    mef_code: str
    uai: str


def is_open(schooling: SchoolingSpan, today: date) -> bool:
    return schooling.end_date is None or schooling.end_date > today


def is_more_recent(other: SchoolingSpan, than: SchoolingSpan, today: date) -> bool:
    """Same school year, and open, ending later or starting later."""
    if other.schooling_id == than.schooling_id or other.school_year != than.school_year:
        return False
    if is_open(other, today):
        return True
    if other.end_date is not None and than.end_date is not None and other.end_date > than.end_date:
        return True
    return other.start_date is not None and than.start_date is not None and other.start_date > than.start_date


def newer_schooling(
    schooling: SchoolingSpan, student_schoolings: list[SchoolingSpan], today: date
) -> SchoolingSpan | None:
    """The student's most recent schooling that supersedes this one, if any (it gives the motives).

    Only a schooling with an end date can be superseded: an open-ended one is the student's current one.
    """
    if schooling.end_date is None:
        return None
    newer = [other for other in student_schoolings if is_more_recent(other, schooling, today)]
    return max(newer, key=lambda other: (other.start_date or date.min, other.end_date or date.max), default=None)
