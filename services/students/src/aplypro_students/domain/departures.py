"""Departures of a full snapshot (imports.md §5.6) and the mass-departure guard: an outage cannot empty a school."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from aplypro_students.domain.model import Schooling

DEFAULT_MAX_SHARE = 0.2  # §5.6: "over a configurable share of open schoolings (default 20 %)"


class MassDeparture(ValueError):
    """The snapshot would close too many of the establishment's open schoolings: nothing is written."""

    code = "mass_departure"

    def __init__(self, closing: int, open_count: int, max_share: float, *, empty: bool) -> None:
        what = "an empty snapshot" if empty else f"{closing} of {open_count} open schoolings would close"
        super().__init__(f"{what} (over {max_share:.0%}); nothing written, review then force it")
        self.closing, self.open_count, self.empty = closing, open_count, empty


def check_departures(closing: int, open_count: int, *, listed: int, max_share: float, force: bool) -> None:
    """Refuses an empty snapshot of an establishment with open schoolings, or one closing over `max_share`."""
    if force or open_count == 0 or (closing == 0 and listed):
        return
    if listed == 0 or closing > max_share * open_count:
        raise MassDeparture(closing, open_count, max_share, empty=listed == 0)


def close_absent(schooling: Schooling, *, today: date, current_year: int, year_end: date) -> Schooling:
    """Absent from a snapshot: the current year closes on the date of that first snapshot, flagged inferred
    (a later SYGNE history replaces it); a past year at its last day."""
    if schooling.school_year >= current_year:
        end, inferred = today, True
    else:
        end, inferred = year_end, False
    return replace(schooling, end_date=max(end, schooling.start_date), end_date_inferred=inferred)
