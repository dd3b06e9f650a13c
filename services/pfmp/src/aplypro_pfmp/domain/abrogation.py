"""When a schooling's DA is abrogeable (documents.md §5.2, lifecycles.md §3), as pfmp checks it before asking
documents (which checks it again): closed (end date ≤ today) and superseded by a more recent schooling of the
student in the same school year (open, ending later or starting later). Pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol
from uuid import UUID


class Span(Protocol):
    @property
    def schooling_id(self) -> UUID: ...
    @property
    def school_year(self) -> int: ...
    @property
    def start_date(self) -> date: ...
    @property
    def end_date(self) -> date | None: ...


def _more_recent(other: Span, than: Span, today: date) -> bool:
    if other.schooling_id == than.schooling_id or other.school_year != than.school_year:
        return False
    if other.end_date is None or other.end_date > today:
        return True  # open
    return (than.end_date is not None and other.end_date > than.end_date) or other.start_date > than.start_date


def abrogation_refusal(schooling: Span, spans: Sequence[Span], today: date) -> str | None:
    """Why the schooling's DA cannot be abrogated today (a stable code); None when it is due."""
    if schooling.end_date is None or schooling.end_date > today:
        return "abrogation_schooling_open"
    if not any(_more_recent(other, schooling, today) for other in spans):
        return "abrogation_not_due"
    return None
