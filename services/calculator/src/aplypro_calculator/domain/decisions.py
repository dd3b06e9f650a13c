"""The schooling gates of a payment request (lifecycles.md §3 and §4): the PFMP within its schooling's dates
(reason 11) and the décision d'attribution (DA) gates (reasons 13-15).

Pure rules over facts the documents service publishes (DocumentIssued, or DocumentReady when its issue was not
seen: attribution, abrogation, retrait), the schoolings the students service publishes (SchoolingOpened:
establishment, MEF, year, dates) and the reports pfmp publishes (SchoolingExtended: the extended end of a closed
schooling).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal
from uuid import UUID

DecisionReason = Literal["pfmp_outside_schooling_dates", "missing_attributive_decision",
                         "needs_abrogated_attributive_decision", "attributive_decision_cancelled"]
DecisionKind = Literal["attribution", "abrogation", "retrait"]
KINDS: tuple[DecisionKind, ...] = ("attribution", "abrogation", "retrait")


@dataclass(frozen=True)
class Decision:
    """The highest version announced of each document of a schooling's DA; 0: none."""

    attribution: int = 0
    abrogation: int = 0
    withdrawal: int = 0

    @property
    def exists(self) -> bool:
        # An abrogation or a retrait is only ever issued on a DA: either one proves the DA, even when its
        # own announcement is late.
        return bool(self.attribution or self.abrogation or self.withdrawal)

    @property
    def live(self) -> bool:
        """Issued and neither abrogated nor withdrawn: the DA still opens the right."""
        return self.exists and not self.abrogation and not self.withdrawal

    def version(self, kind: DecisionKind) -> int:
        return {"attribution": self.attribution, "abrogation": self.abrogation, "retrait": self.withdrawal}[kind]

    def with_version(self, kind: DecisionKind, version: int) -> Decision:
        field = {"attribution": "attribution", "abrogation": "abrogation", "retrait": "withdrawal"}[kind]
        return Decision(**{**self.__dict__, field: version})


@dataclass(frozen=True)
class Span:
    """One schooling of a student as the gates need it."""

    schooling_id: UUID
    uai: str
    mef_code: str
    school_year: int
    start_date: date | None
    end_date: date | None
    decision: Decision
    extended_end_date: date | None = None  # the report (pfmp's SchoolingExtended): replaces a closed end


def within_schooling_dates(span: Span, start: date, end: date, today: date) -> bool:
    """lifecycles.md §3 "within schooling dates". An open schooling (no end, or an end after today) bounds
    only the start; an open one without a start date has no start bound. A closed one is bounded by its
    report when it has one, else by its end date."""
    if span.start_date is None and span.end_date is None:
        return True
    if span.end_date is None or span.end_date > today:
        return span.start_date is None or start >= span.start_date
    last = span.extended_end_date or span.end_date
    return (span.start_date is None or start >= span.start_date) and end <= last


def transferred(spans: Iterable[Span], school_year: int) -> bool:
    """In the PFMP's school year, the student's schoolings span more than one MEF or establishment."""
    year = [s for s in spans if s.school_year == school_year]
    return len({s.mef_code for s in year}) > 1 or len({s.uai for s in year}) > 1


def decision_reasons(schooling_id: UUID, spans: list[Span], start: date, end: date, today: date, *,
                     recovery: bool = False) -> tuple[DecisionReason, ...]:
    """The failing schooling gates of a request of a PFMP of `schooling_id` (`spans`: every schooling of the
    student known, this one included), in the order of lifecycles.md §4.

    A recovery (a rectification below the amount paid) pays nothing: the gates, which keep money from going
    out without a live DA, do not hold it back; a retrait calls for exactly such recoveries (calculation.md
    §5.5).
    """
    if recovery:
        return ()
    mine = next((s for s in spans if s.schooling_id == schooling_id), None)
    decision = mine.decision if mine is not None else Decision()
    reasons: list[DecisionReason] = []
    if mine is not None and not within_schooling_dates(mine, start, end, today):
        reasons.append("pfmp_outside_schooling_dates")  # fixed by new PFMP dates, schooling dates or a report
    if not decision.exists:
        reasons.append("missing_attributive_decision")
    if mine is not None and _needs_abrogation(mine, spans, start, end, today):
        reasons.append("needs_abrogated_attributive_decision")
    if decision.withdrawal:
        reasons.append("attributive_decision_cancelled")
    return tuple(reasons)


def _needs_abrogation(mine: Span, spans: list[Span], start: date, end: date, today: date) -> bool:
    return (transferred(spans, mine.school_year) and within_schooling_dates(mine, start, end, today)
            and not mine.decision.abrogation
            and any(s.decision.live for s in spans
                    if s.school_year == mine.school_year and s.schooling_id != mine.schooling_id))
