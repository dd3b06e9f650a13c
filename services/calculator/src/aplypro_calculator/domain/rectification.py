"""Correcting paid PFMPs (calculation.md §5.2–5.6) and the day-count bounds they share (§3.5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from aplypro_calculator.domain.pool import euros

# §5.2: a recovery must exceed 30 €; a decrease of exactly 30 € is refused.
RECOVERY_THRESHOLD_CENTS = 3000

Initiator = Literal["user", "system"]
RefusalCode = Literal["nothing_to_correct", "below_recovery_threshold", "negative_rectification_disabled"]


class InvalidDayCount(ValueError):
    """A day count outside §3.5; `code` is stable (API error, blocking reason)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def validate_day_count(day_count: object, start: date, end: date, rectification: bool) -> int:
    """1 ≤ day_count ≤ calendar days (both ends inclusive); 0 only in a rectification (D11)."""
    if isinstance(day_count, bool) or not isinstance(day_count, int):
        raise InvalidDayCount("day_count_not_integer", f"the day count must be a whole number, got {day_count!r}")
    if end < start:
        raise InvalidDayCount("dates_out_of_order", f"the PFMP ends ({end}) before it starts ({start})")
    if day_count < 0:
        raise InvalidDayCount("day_count_negative", f"the day count cannot be negative ({day_count})")
    if day_count == 0 and not rectification:
        raise InvalidDayCount("day_count_zero", "0 days is only allowed to cancel a paid PFMP in a rectification")
    calendar_days = (end - start).days + 1
    if day_count > calendar_days:
        raise InvalidDayCount(
            "day_count_above_calendar_days",
            f"{day_count} days do not fit in {calendar_days} calendar days ({start} to {end})",
        )
    return day_count


@dataclass(frozen=True)
class RectificationOutcome:
    """What a correction of a paid PFMP leads to; ASP always receives the new total, never a delta."""

    kind: Literal["refused", "complement", "recovery"]
    base_cents: int
    new_cents: int
    code: RefusalCode | None = None  # set when refused
    parked_reason: Literal["negative_rectification"] | None = None  # a recovery held in `pending` (§5.4)

    @property
    def difference_cents(self) -> int:
        return self.new_cents - self.base_cents

    @property
    def parked(self) -> bool:
        return self.parked_reason is not None


def rectify(
    base_cents: int, new_cents: int, *, negative_enabled: bool, initiated_by: Initiator
) -> RectificationOutcome:
    """`base` = total last accepted by ASP; `new` = the pool amount with the new day count (§5.2)."""
    if base_cents < 0 or new_cents < 0:
        raise ValueError("amounts are never negative")
    difference = new_cents - base_cents

    def refused(code: RefusalCode) -> RectificationOutcome:
        return RectificationOutcome("refused", base_cents, new_cents, code=code)

    if difference == 0:
        return refused("nothing_to_correct")
    if difference > 0:
        return RectificationOutcome("complement", base_cents, new_cents)
    if -difference <= RECOVERY_THRESHOLD_CENTS:
        return refused("below_recovery_threshold")
    if negative_enabled:
        return RectificationOutcome("recovery", base_cents, new_cents)
    if initiated_by == "user":  # §5.4: refused up front while ASP blocks lower totals
        return refused("negative_rectification_disabled")
    # System paths (DA withdrawal, over-cap repair) record it; the request waits for the switch.
    return RectificationOutcome("recovery", base_cents, new_cents, parked_reason="negative_rectification")


@dataclass(frozen=True)
class PaidPfmp:
    """A PFMP of the pool whose latest request is `paid`, with the total ASP accepted."""

    pfmp_id: str
    paid_cents: int
    start_date: date
    end_date: date
    created_seq: int
    # Its day count × the current rate: the most a rectification keeping its days can give it (calculation
    # §3.1). None: no limit (a plan made without the PFMP's facts).
    ceiling_cents: int | None = None


@dataclass(frozen=True)
class Reduction:
    pfmp_id: str
    outcome: RectificationOutcome

    @property
    def recovery_cents(self) -> int:
        return -self.outcome.difference_cents


@dataclass(frozen=True)
class RepairPlan:
    cap_cents: int
    committed_cents: int
    reductions: list[Reduction]
    remaining_excess_cents: int
    steps: list[str] = field(default_factory=list)

    @property
    def excess_cents(self) -> int:
        return max(0, self.committed_cents - self.cap_cents)


def plan_over_cap_repair(
    cap_cents: int,
    paid: Sequence[PaidPfmp],
    *,
    committed_cents: int | None = None,
    negative_enabled: bool = False,
) -> RepairPlan:
    """§5.6: reduce paid PFMPs, largest first, until the excess is 30 € or less.

    `committed_cents` defaults to Σ paid; pass it when ready/sent/integrated amounts also hold cap.
    Equal amounts are taken in chronological order, so the plan is deterministic.
    """
    committed = sum(p.paid_cents for p in paid) if committed_cents is None else committed_cents
    excess = committed - cap_cents
    steps = [f"committed {euros(committed)}, cap {euros(cap_cents)}, excess {euros(max(excess, 0))}"]
    reductions: list[Reduction] = []
    ordered = sorted(paid, key=lambda p: (-p.paid_cents, p.start_date, p.end_date, p.created_seq, p.pfmp_id))
    for p in ordered:
        if excess <= RECOVERY_THRESHOLD_CENTS:
            break
        new = p.paid_cents - min(excess, p.paid_cents)
        if p.ceiling_cents is not None:
            # A PFMP keeps its days, so its new total can be no more than day count × rate (a lowered rate):
            # planned as it will be applied, the recovery is then larger than the excess (issue 10).
            new = min(new, p.ceiling_cents)
        cut = p.paid_cents - new
        if cut <= RECOVERY_THRESHOLD_CENTS:  # such a recovery could not be issued anyway
            steps.append(f"{p.pfmp_id}: skip, a reduction of {euros(cut)} is 30 € or less")
            continue
        outcome = rectify(p.paid_cents, new, negative_enabled=negative_enabled, initiated_by="system")
        reductions.append(Reduction(p.pfmp_id, outcome))
        excess -= cut
        parked = " (parked: negative_rectification)" if outcome.parked else ""
        steps.append(f"{p.pfmp_id}: {euros(p.paid_cents)} → {euros(new)}, "
                     f"recovery {euros(cut)}{parked}")
    left = max(excess, 0)
    steps.append(f"remaining excess {euros(left)}" + (" (30 € or less: done)" if excess <= RECOVERY_THRESHOLD_CENTS else ""))
    return RepairPlan(cap_cents, committed, reductions, left, steps)
