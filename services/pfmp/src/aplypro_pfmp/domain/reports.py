"""The *report* (extended_end_date) of a schooling (calculation.md §3.6, lifecycles.md §3 "report").

Staff set, change or remove it with the confirmed director's confirmation. It extends a **closed** schooling
of a **past** school year, so that a late PFMP of that year can be entered (and is paid on that year's barème
and pool, since it stays in that schooling). The guards, in the order a user fixes them:

| code                          | refused when                                                         |
| `schooling_open`              | the schooling has no end date                                        |
| `missing_attributive_decision`| it has no DA, or its DA was withdrawn                                |
| `attributive_decision_abrogated` | its DA is abrogated                                               |
| `schooling_in_current_year`   | its start date lies in the current school year's range               |
| `report_not_after_end`        | the new date is on or before the schooling's end date                |
| `report_before_pfmp`          | the new date is on or before the end date of one of its PFMPs        |
| `report_in_use`               | removing it while a PFMP of the schooling ends after the end date    |
| `no_report`                   | removing a report that is not set                                    |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.domain.school_years import YearRange


@dataclass(frozen=True)
class ReportFacts:
    """What the guards read of one schooling."""

    start_date: date
    end_date: date | None
    has_decision: bool  # an issued DA, not withdrawn
    abrogated: bool
    current_year: YearRange  # the school year containing today, for the establishment's academy
    latest_pfmp_end: date | None  # of the schooling's live PFMPs
    report: date | None  # the report held


def check_report(facts: ReportFacts, new_date: date | None) -> None:
    """Raise PfmpError with the first guard that fails; `new_date` None removes the report."""
    if new_date is None:
        if facts.report is None:
            raise PfmpError("no_report", "the schooling has no report to remove")
        if facts.end_date is not None and facts.latest_pfmp_end is not None and facts.latest_pfmp_end > facts.end_date:
            raise PfmpError("report_in_use", "a PFMP of the schooling ends after the schooling's end date: "
                            "move or delete it before removing the report")
        return
    if facts.end_date is None:
        raise PfmpError("schooling_open", "only a closed schooling (with an end date) can have a report")
    if not facts.has_decision:
        raise PfmpError("missing_attributive_decision", "the schooling has no décision d'attribution in force")
    if facts.abrogated:
        raise PfmpError("attributive_decision_abrogated", "the schooling's décision d'attribution is abrogated")
    if facts.current_year.first <= facts.start_date <= facts.current_year.last:
        raise PfmpError("schooling_in_current_year",
                        "a report extends a schooling of a past school year, not of the current one")
    if new_date <= facts.end_date:
        raise PfmpError("report_not_after_end", "the report date must come after the schooling's end date")
    if facts.latest_pfmp_end is not None and new_date <= facts.latest_pfmp_end:
        raise PfmpError("report_before_pfmp",
                        "the report date must come after the end date of every PFMP of the schooling")
