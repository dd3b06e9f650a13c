"""The decisions of a PFMP file import, row by row in file order, in memory (no I/O).

It gives each row the outcome `use_cases.record_in_schooling` gives it when rows are recorded one after
the other, each in its own savepoint: the same rules (domain.pfmp), in the same order, against what the
database held when the file's students were locked plus every earlier row of the file that was not refused.
So a row sees the PFMPs the rows before it recorded or edited (its period: edited or unchanged; another
period sharing a day: `pfmp_overlaps`), and a refused row changes nothing for the rows after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from aplypro_contracts.ids import new_uuid

from aplypro_pfmp.domain.pfmp import Pfmp, PfmpError, overlaps
from aplypro_pfmp.domain.school_years import YearRange
from aplypro_pfmp.service_layer.use_cases import OVERLAP_MESSAGE, Outcome, unknown_schooling

Period = tuple[UUID, date, date]  # a PFMP's identity within its student: (schooling, start, end)


@dataclass
class ImportPlan:
    """What to write: new PFMPs in recording order, existing ones edited (their last state), and one event
    and one audit action per row recorded or edited, in file order (the PFMP as that row left it)."""

    new: dict[UUID, Pfmp] = field(default_factory=dict)
    edited: dict[UUID, Pfmp] = field(default_factory=dict)
    changes: list[tuple[Outcome, Pfmp]] = field(default_factory=list)


class Planner:
    """Decides rows one at a time; `decide` raises the row's PfmpError, leaving the plan as it was."""

    def __init__(self, live: Iterable[Pfmp], last_ranks: Mapping[UUID, int],
                 year_ranges: Mapping[UUID, YearRange]) -> None:
        self.plan = ImportPlan()
        self._by_period: dict[Period, Pfmp] = {}
        self._periods: dict[UUID, list[tuple[date, date]]] = {}  # live periods by student
        for pfmp in live:
            self._by_period[(pfmp.schooling_id, pfmp.start_date, pfmp.end_date)] = pfmp
            self._periods.setdefault(pfmp.student_id, []).append((pfmp.start_date, pfmp.end_date))
        self._last_rank = dict(last_ranks)
        self._year_ranges = year_ranges

    def decide(self, schooling: dict[str, Any] | None, start: date, end: date, day_count: int | None) -> Outcome:
        if schooling is None:
            raise unknown_schooling()
        schooling_id: UUID = schooling["schooling_id"]
        existing = self._by_period.get((schooling_id, start, end))
        if existing is not None:
            return self._edit(existing, day_count)
        rank = self._last_rank.get(schooling_id, 0) + 1
        pfmp = Pfmp.record(pfmp_id=new_uuid(), schooling_id=schooling_id, student_id=schooling["student_id"],
                           school_year=self._year_ranges[schooling_id], start=start, end=end,
                           day_count=day_count, rank=rank)
        periods = self._periods.setdefault(pfmp.student_id, [])
        if any(overlaps(start, end, other_start, other_end) for other_start, other_end in periods):
            raise PfmpError("pfmp_overlaps", OVERLAP_MESSAGE)
        self._last_rank[schooling_id] = rank
        self._by_period[(schooling_id, start, end)] = pfmp
        periods.append((start, end))
        self.plan.new[pfmp.pfmp_id] = pfmp
        self.plan.changes.append((Outcome.RECORDED, pfmp))
        return Outcome.RECORDED

    def _edit(self, existing: Pfmp, day_count: int | None) -> Outcome:
        pfmp = existing.set_day_count(day_count)  # a validated PFMP: refused
        if pfmp is existing:
            return Outcome.UNCHANGED
        self._by_period[(pfmp.schooling_id, pfmp.start_date, pfmp.end_date)] = pfmp
        # A PFMP recorded earlier in this file is inserted in its last state; an older one is updated.
        (self.plan.new if pfmp.pfmp_id in self.plan.new else self.plan.edited)[pfmp.pfmp_id] = pfmp
        self.plan.changes.append((Outcome.EDITED, pfmp))
        return Outcome.EDITED
