"""The statistics indicators of features.md §4, as pfmp's projection computes them, and how a ratio shows.

pfmp knows schoolings, students, PFMPs and their states, issued decisions, RIBs on file (a yes/no per
establishment), each payment request's state and amounts (the ASP's net amount, or a recovery order's claim),
each PFMP's amount (the calculator's AmountComputed), each schooling's barème (SchoolingPriced: yearly cap and
daily rate), whether each student's data is ready for the ASP (a yes/no from StudentRegistered and
StudentIneStatusChanged) and reports (schooling_reports): every indicator of §4. `_sum` columns are integer
cents.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction

INFINITE = "Infini"


@dataclass(frozen=True)
class Counts:
    """One establishment's (or academy's, or the nation's) counts for one school year."""

    yearly_sum: int = 0  # cents: the yearly caps of the schoolings (the maximum payable); unpriced ones add 0
    schoolings_count: int = 0
    students_count: int = 0
    attributive_decisions_count: int = 0
    ribs_count: int = 0
    students_data_count: int = 0  # students whose data is ready for the ASP
    pfmps_count: int = 0
    pfmps_validated_count: int = 0
    pfmps_completed_count: int = 0
    pfmps_incompleted_count: int = 0
    payment_requests_paid_count: int = 0
    payment_requests_sent_count: int = 0
    payment_requests_integrated_count: int = 0
    students_paid_count: int = 0
    pfmps_paid_count: int = 0
    pfmps_payable_count: int = 0
    pfmps_validated_sum: int = 0  # cents: amounts of the finished validated or rectified PFMPs
    pfmps_completed_sum: int = 0  # cents: amounts of the completed PFMPs (known once the calculator priced them)
    payment_requests_paid_sum: int = 0  # cents: "Mt. payé", the paid requests' net amounts (recoveries left out)
    pfmps_incompleted_sum: int = 0  # cents: theoretical, round(days between dates x 5/7) x daily rate
    payment_requests_recovery_sum: int = 0  # cents: "Mt. OR", the amounts recovery orders claim
    pfmps_extended_count: int = 0  # PFMPs of an extended (reported) schooling ending after the schooling's end
    pfmps_extended_sum: int = 0  # cents: their amounts

    @classmethod
    def from_row(cls, row: object) -> Counts:
        return cls(**{f.name: int(row[f.name] or 0) for f in fields(cls)})  # type: ignore[index]

    @property
    def ratios(self) -> dict[str, Fraction | None]:
        """None stands for an infinite ratio (a count over a zero denominator)."""
        return {
            "attributive_decisions_ratio": ratio(self.attributive_decisions_count, self.schoolings_count),
            "ribs_ratio": ratio(self.ribs_count, self.students_count),
            "students_data_ratio": ratio(self.students_data_count, self.students_count),
            "students_paid_ratio": ratio(self.students_paid_count, self.students_count),
            "pfmps_paid_payable_ratio": ratio(self.pfmps_paid_count, self.pfmps_payable_count),
            "pfmps_validated_ratio": ratio(self.pfmps_validated_count, self.pfmps_count),
        }


def ratio(numerator: int, denominator: int) -> Fraction | None:
    """features.md §4: a zero denominator shows as 0 (nothing over nothing) and an infinite ratio as Infini."""
    if denominator == 0:
        return Fraction(0) if numerator == 0 else None
    return Fraction(numerator, denominator)


def shown(value: Fraction | None) -> str:
    """`87 %`, or Infini."""
    if value is None:
        return INFINITE
    return f"{round(value * 100)} %"


def colour(value: Fraction | None) -> str:
    """The cell's colour: green from 0.8, light yellow from 0.5, yellow from 0.2, red below (DSFR badges)."""
    if value is None or value >= Fraction(8, 10):
        return "success"
    if value >= Fraction(5, 10):
        return "new"
    if value >= Fraction(2, 10):
        return "warning"
    return "error"
