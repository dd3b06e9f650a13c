"""The barème: the daily rate and yearly cap of a BCN MEF row in a school year (calculation.md §2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from aplypro_calculator.domain._bareme_data import BaremeData, BaremeDataError, Deviation, parse_bareme

__all__ = ["Bareme", "BaremeDataError", "MefRow", "Priced", "Unpriced", "UnpricedReason", "load_bareme"]

UnpricedReason = Literal[
    "unknown_school_year", "ministry_without_bareme", "dispositif_not_covered", "year_not_covered", "ambiguous"
]

# §2.2: Armées is spelt several ways in BCN and BOP data; one value, so it can never slip into MENJ.
_MINISTRY_ALIASES = {"ARMEE": "ARMEES", "ARMÉE": "ARMEES", "ARMÉES": "ARMEES"}


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class MefRow:
    """The seven BCN MEF fields that decide the price, normalised (§2.2)."""

    mef: str
    dispositif: str
    diploma: str
    duration: int | None
    year: int | None
    label: str
    ministry: str

    @classmethod
    def from_bcn(cls, raw: Mapping[str, str | None]) -> MefRow:
        """Normalise one BCN row; other columns (dates, STATUT_MEF…) never change the price."""

        def field(name: str) -> str:
            return (raw.get(name) or "").strip()

        mef = field("MEF")
        ministry = field("MINISTERE").upper()
        diploma = field("FORMATION_DIPLOME")
        # 2024-25 has rows with empty DUREE/ANNEE: the MEF code carries them (9th and 10th characters).
        duration = field("DUREE_DISPOSITIF") or mef[8:9]
        year = field("ANNEE_DISPOSITIF") or mef[9:10]
        return cls(
            mef=mef,
            dispositif=field("DISPOSITIF_FORMATION") or mef[:3],
            diploma=diploma.zfill(8) if diploma else "",  # some files drop the leading zero
            duration=_int_or_none(duration),
            year=_int_or_none(year),
            label=field("LIBELLE_LONG"),
            ministry=_MINISTRY_ALIASES.get(ministry, ministry),
        )


@dataclass(frozen=True)
class Priced:
    daily_rate_cents: int
    yearly_cap_cents: int
    family: str
    ministry_table: str  # the table actually used: MENJ for a MER row of 2023-24
    legal_reference: str
    school_year: int


@dataclass(frozen=True)
class Unpriced:
    """No allowance for this row and year; never an exception (D8)."""

    reason: UnpricedReason
    detail: str


class Bareme:
    """Prices MEF rows from the reviewed parameters; depends only on the row and the school year."""

    def __init__(self, data: BaremeData) -> None:
        self._data = data

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Bareme:
        return cls(parse_bareme(raw))

    @property
    def school_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._data.school_years))

    def period(self, school_year: int) -> tuple[date, date]:
        """Nominal effective period of a school year's parameters (KeyError when unknown)."""
        params = self._data.school_years[school_year]
        return params.start, params.end

    def price(self, row: MefRow, school_year: int) -> Priced | Unpriced:
        params = self._data.school_years.get(school_year)
        if params is None:
            return Unpriced("unknown_school_year", f"no barème for school year {school_year}")
        table = self._data.ministries.get(row.ministry)
        if table is None:
            return Unpriced("ministry_without_bareme", f"no barème for ministry {row.ministry!r}")
        applied: list[Deviation] = []
        table_swap = self._deviation(school_year, table, None)
        if table_swap is not None and table_swap.priced_as_table is not None:
            applied.append(table_swap)
            table = table_swap.priced_as_table
        candidates = [f for f in self._data.families[table] if row.dispositif in f.dispositifs]
        if not candidates:
            return Unpriced("dispositif_not_covered", f"dispositif {row.dispositif!r} not in the {table} table")
        matches = [f for f in candidates if f.matches(row.dispositif, row.year, row.diploma, row.label)]
        if not matches:
            return Unpriced(
                "year_not_covered", f"{table} dispositif {row.dispositif} has no family for year {row.year}"
            )
        if len(matches) > 1:  # a data error: never resolved silently
            names = ", ".join(sorted(f.name for f in matches))
            return Unpriced("ambiguous", f"{table} row {row.mef!r} matches {names}")
        family = matches[0].name
        priced_as = family
        family_swap = self._deviation(school_year, table, family)
        if family_swap is not None and family_swap.priced_as_family is not None:
            applied.append(family_swap)
            priced_as = family_swap.priced_as_family
        entry = params.prices[(table, priced_as)]
        reference = "; ".join([entry.reference, *(f"deviation {d.id}: {d.reference}" for d in applied)])
        return Priced(
            daily_rate_cents=entry.rate_euros * 100,
            yearly_cap_cents=entry.cap_euros * 100,
            family=family,
            ministry_table=table,
            legal_reference=reference,
            school_year=school_year,
        )

    def _deviation(self, school_year: int, table: str, family: str | None) -> Deviation | None:
        for d in self._data.deviations:
            if school_year in d.school_years and d.table == table and d.family == family:
                return d
        return None


@cache  # the file is package data: read and checked once per process
def load_bareme() -> Bareme:
    text = resources.files("aplypro_calculator.domain").joinpath("bareme.yaml").read_text(encoding="utf-8")
    return Bareme.from_mapping(yaml.safe_load(text))
