"""Exclusions (calculation.md §4, imports.md §5.1): (UAI, MEF or none = the whole establishment, school year or
none = every year). An import skips the records they cover; the rule is the calculator's, read the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# ASCII digits only: `\d` also takes Arabic-Indic and other digits (csv_reader.py says the same).
_UAI = re.compile(r"[0-9]{7}[A-Z]")
_MEF = re.compile(r"[0-9]{10}")


class ExclusionConflict(ValueError):
    """A MEF row under an establishment already excluded as a whole (any year): dead data that would come to
    life if the establishment row were lifted."""

    code = "exclusion.establishment_already_excluded"


class ExclusionInvalid(ValueError):
    """A UAI that is not 7 digits and a letter, a MEF that is not 10 digits, or an impossible school year."""

    code = "exclusion.invalid"


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


def check_shape(row: Exclusion) -> None:
    """Raises ExclusionInvalid for a row no source could ever match (and no event could carry)."""
    if not _UAI.fullmatch(row.uai):
        raise ExclusionInvalid(f"{row.uai!r} is not a UAI (7 digits and a letter)")
    if row.mef_code is not None and not _MEF.fullmatch(row.mef_code):
        raise ExclusionInvalid(f"{row.mef_code!r} is not a MEF code (10 digits)")
    if row.school_year is not None and not 2000 <= row.school_year <= 2100:
        raise ExclusionInvalid(f"{row.school_year} is not a school year (2025 = 2025-2026)")
