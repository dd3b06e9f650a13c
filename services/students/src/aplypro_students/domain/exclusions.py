"""Exclusions (calculation.md §4, imports.md §5.1): (UAI, MEF or none = the whole establishment, school year or
none = every year). An import skips the records they cover; the rule is the calculator's, read the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ExclusionConflict(ValueError):
    """A MEF row under an establishment already excluded as a whole (any year): dead data that would come to
    life if the establishment row were lifted."""

    code = "exclusion.establishment_already_excluded"


@dataclass(frozen=True)
class Exclusion:
    uai: str
    mef_code: str | None = None
    school_year: int | None = None

    @classmethod
    def of(cls, uai: str, mef_code: str | None = None, school_year: int | None = None) -> Exclusion:
        return cls(uai.strip().upper(), (mef_code or "").strip() or None, school_year)

    def covers(self, uai: str, mef_code: str, school_year: int) -> bool:
        return (self.uai == uai.strip().upper() and self.mef_code in (None, mef_code.strip())
                and self.school_year in (None, school_year))


def excluded(rows: Iterable[Exclusion], uai: str, mef_code: str, school_year: int) -> bool:
    return any(row.covers(uai, mef_code, school_year) for row in rows)


def check_addition(existing: Iterable[Exclusion], row: Exclusion) -> None:
    """Raises ExclusionConflict for a MEF row under a whole-establishment one."""
    if row.mef_code is not None and any(e.uai == row.uai and e.mef_code is None for e in existing):
        raise ExclusionConflict(f"{row.uai} is already excluded as a whole establishment")
