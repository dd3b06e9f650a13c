"""Establishments and (establishment, MEF) pairs kept outside the scheme (calculation.md §4).

Exclusions never change a rate or a cap: they only decide whether a schooling is in the scheme.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ExclusionConflict(ValueError):
    """A MEF-specific row under an establishment that is already excluded as a whole."""

    code = "establishment_already_excluded"


@dataclass(frozen=True)
class ExclusionRow:
    """(UAI, MEF or None = whole establishment, school start year or None = every year)."""

    uai: str
    mef: str | None = None
    school_year: int | None = None

    @classmethod
    def of(cls, uai: str, mef: str | None = None, school_year: int | None = None) -> ExclusionRow:
        # UAIs are stored upper-case (7 digits + 1 letter); an empty MEF cell means the whole establishment.
        return cls(uai.strip().upper(), (mef or "").strip() or None, school_year)

    @property
    def whole_establishment(self) -> bool:
        return self.mef is None

    def covers_year(self, year: int) -> bool:
        return self.school_year is None or self.school_year == year


class Exclusions:
    """An immutable list of exclusion rows; `add` returns a new list."""

    def __init__(self, rows: Iterable[ExclusionRow] = ()) -> None:
        # Stored rows are trusted as they are: the conflict rule guards additions only (`add`).
        self._by_uai: dict[str, tuple[ExclusionRow, ...]] = {}
        for row in rows:
            self._by_uai[row.uai] = (*self._by_uai.get(row.uai, ()), row)

    @property
    def rows(self) -> tuple[ExclusionRow, ...]:
        return tuple(r for rows in self._by_uai.values() for r in rows)

    def add(self, row: ExclusionRow) -> Exclusions:
        existing = self._by_uai.get(row.uai, ())
        if row in existing:
            return self  # adding the same row twice changes nothing
        if not row.whole_establishment and any(r.whole_establishment for r in existing):
            # Any year: a MEF row under a whole-establishment row would be dead data, and would
            # silently come to life if the establishment row were lifted.
            raise ExclusionConflict(f"{row.uai} is already excluded as a whole establishment")
        return Exclusions((*self.rows, row))

    def excluded(self, uai: str, mef: str, year: int) -> bool:
        return any(
            (r.mef is None or r.mef == mef.strip()) and r.covers_year(year)
            for r in self._by_uai.get(uai.strip().upper(), ())
        )

    def establishment_excluded(self, uai: str, year: int) -> bool:
        return any(
            r.whole_establishment and r.covers_year(year) for r in self._by_uai.get(uai.strip().upper(), ())
        )

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._by_uai.values())
