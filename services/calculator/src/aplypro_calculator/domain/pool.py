"""Sharing one yearly cap between the PFMPs of a pool (calculation.md §3.1–3.3).

The amounts are a pure function of the pool's current facts (§3.8, D5): never of the order in which
events arrived or of which PFMP was edited last.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Literal

Klass = Literal["committed", "rectifying", "free", "none"]


@lru_cache(maxsize=4096)  # explanation steps repeat a few amounts thousands of times per batch
def euros(cents: int) -> str:
    """Amounts for people: whole euros when exact (always, with a whole-euro barème)."""
    whole, rest = divmod(cents, 100)
    return f"{whole} €" if rest == 0 else f"{cents / 100:.2f} €"


@dataclass(frozen=True)
class PoolPfmp:
    """The facts about one PFMP that decide its share of the cap."""

    pfmp_id: str
    start_date: date
    end_date: date
    created_seq: int
    day_count: int | None
    deleted: bool = False
    excluded: bool = False  # its schooling is excluded (§4)
    hidden: bool = False  # its schooling is hidden: a learner who never came, or retracted by its producer
    committed_amount_cents: int | None = None  # set when the latest request is ready/sent/integrated/paid
    ever_paid: bool = False


@dataclass(frozen=True)
class Allocation:
    pfmp_id: str
    amount_cents: int | None  # None: not priced, holds nothing
    klass: Klass
    steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PoolResult:
    rate_cents: int
    cap_cents: int
    allocations: list[Allocation]  # in allocation order: committed, rectifying, free, then none
    committed_cents: int
    total_cents: int  # committed plus what was allocated
    over_cap: bool  # Σ committed > cap: for operator repair (§5.6), never a reason to refuse an edit (D1)
    cap_reached: bool  # the pool total reached the cap

    @property
    def remaining_cents(self) -> int:
        return max(0, self.cap_cents - self.total_cents)

    def amounts(self) -> dict[str, int | None]:
        return {a.pfmp_id: a.amount_cents for a in self.allocations}

    def get(self, pfmp_id: str) -> Allocation:
        return next(a for a in self.allocations if a.pfmp_id == pfmp_id)


def _chronological(p: PoolPfmp) -> tuple[date, date, int, str]:
    # The pfmp_id only separates equal creation sequences, so the order is total.
    return (p.start_date, p.end_date, p.created_seq, p.pfmp_id)


def classify(p: PoolPfmp) -> tuple[Klass, str]:
    """Which class a PFMP falls into (§3.3), and why, as one explanation step."""
    if p.deleted:
        return "none", "deleted: holds nothing"
    if p.committed_amount_cents is not None:
        # Frozen in a request handed to ASP: counted even if an exclusion came later, since that
        # money is out (§4: amounts already paid stay as they are).
        return "committed", f"committed: {euros(p.committed_amount_cents)} frozen in its payment request"
    if p.excluded:
        return "none", "excluded schooling: not priced, holds nothing"
    if p.hidden:
        return "none", "hidden schooling: not paid, holds nothing"
    if p.day_count is None:
        return "none", "no day count: no amount, holds nothing"
    if p.ever_paid:
        return "rectifying", "being rectified: paid before, priced ahead of never-paid PFMPs"
    return "free", "free: priced in chronological order"


def allocate(rate_cents: int, cap_cents: int, pfmps: Iterable[PoolPfmp]) -> PoolResult:
    """amount(P) = min(day_count × rate, max(0, cap − Σ amounts held ahead of P))."""
    items = list(pfmps)
    if rate_cents < 0 or cap_cents < 0:
        raise ValueError("rate and cap must not be negative")
    if len({p.pfmp_id for p in items}) != len(items):
        raise ValueError("a PFMP appears twice in the pool")
    groups: dict[Klass, list[tuple[PoolPfmp, str]]] = {"committed": [], "rectifying": [], "free": [], "none": []}
    for p in sorted(items, key=_chronological):
        klass, why = classify(p)
        groups[klass].append((p, why))

    allocations: list[Allocation] = []
    committed = 0
    for p, why in groups["committed"]:
        amount = p.committed_amount_cents or 0
        committed += amount
        allocations.append(Allocation(p.pfmp_id, amount, "committed", [why, "not recomputed"]))

    remaining = cap_cents - committed
    for klass in ("rectifying", "free"):
        for p, why in groups[klass]:
            days = p.day_count or 0
            if days < 0:
                raise ValueError(f"PFMP {p.pfmp_id}: negative day count")
            wanted = days * rate_cents
            amount = min(wanted, max(remaining, 0))  # clamped at 0 even when over cap (D2)
            steps = [
                why,
                f"{days} days × {euros(rate_cents)} = {euros(wanted)}",
                f"cap left before it: {euros(max(remaining, 0))} of {euros(cap_cents)}",
                f"amount: {euros(amount)}" + (" (capped)" if amount < wanted else ""),
            ]
            remaining -= amount
            allocations.append(Allocation(p.pfmp_id, amount, klass, steps))

    allocations += [Allocation(p.pfmp_id, None, "none", [why]) for p, why in groups["none"]]
    total = sum(a.amount_cents or 0 for a in allocations)
    return PoolResult(
        rate_cents=rate_cents,
        cap_cents=cap_cents,
        allocations=allocations,
        committed_cents=committed,
        total_cents=total,
        over_cap=committed > cap_cents,
        cap_reached=total >= cap_cents,
    )
