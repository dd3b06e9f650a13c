"""An academic report (features.md §4, "Academic report: cards showing the change against an earlier report"):
each indicator at a report and how it moved since an earlier one. Pure; shown on the page as French text.

Counts change by a whole number, amounts by cents (shown in euros by the page), ratios by percentage points;
a ratio that is or was infinite has no meaningful change (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .indicator_export import COLUMNS, Column, Kind
from .indicators import Counts, shown


@dataclass(frozen=True)
class Change:
    column: Column
    value: int | Fraction | None  # a count, cents, or a ratio (None: infinite)
    delta: int | None  # counts and cents: the difference; ratios: percentage points, rounded; None: not comparable

    @property
    def kind(self) -> Kind:
        return self.column.kind

    @property
    def ratio_text(self) -> str:
        return shown(self.value) if not isinstance(self.value, int) else ""


def _value(counts: Counts, column: Column) -> int | Fraction | None:
    return counts.ratios[column.key] if column.kind == "ratio" else int(getattr(counts, column.key))


def changes(now: Counts, before: Counts | None) -> list[Change]:
    """Every indicator of `now`, with its change since `before` (None: no earlier report, no change)."""
    result = []
    for column in COLUMNS:
        value = _value(now, column)
        earlier = None if before is None else _value(before, column)
        delta: int | None = None
        if before is not None and column.kind != "ratio":
            delta = int(value or 0) - int(earlier or 0)
        elif before is not None and isinstance(value, Fraction) and isinstance(earlier, Fraction):
            delta = round((value - earlier) * 100)
        result.append(Change(column, value, delta))
    return result


def signed(delta: int | None) -> str:
    """`+3`, `-2`, `=`; '' when not comparable."""
    if delta is None:
        return ""
    return "=" if delta == 0 else f"{delta:+d}"
