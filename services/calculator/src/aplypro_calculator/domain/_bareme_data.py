"""Turns the parsed barème data file into checked, typed parameters (calculation.md §2.6)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


class BaremeDataError(ValueError):
    """The barème data file is malformed: a reviewed file must fail loudly, never price silently."""

    code = "bareme_data_invalid"


@dataclass(frozen=True)
class Family:
    """Selectors of one family of a ministry table; `years=None` means any year within the training."""

    table: str
    name: str
    dispositifs: frozenset[str]
    years: frozenset[int] | None = None
    diploma_in: frozenset[str] | None = None
    diploma_not_in: frozenset[str] = frozenset()
    label_has: str | None = None
    label_lacks: str | None = None

    def matches(self, dispositif: str, year: int | None, diploma: str, label: str) -> bool:
        if dispositif not in self.dispositifs:
            return False
        if self.years is not None and year not in self.years:
            return False
        if self.diploma_in is not None and diploma not in self.diploma_in:
            return False
        if diploma in self.diploma_not_in:
            return False
        if self.label_has is not None and not _has_marker(label, self.label_has):
            return False
        return self.label_lacks is None or not _has_marker(label, self.label_lacks)


def _has_marker(label: str, marker: str) -> bool:
    # Whole token only, so that a marker "MC3" never matches inside "MC35".
    return re.search(rf"(?<![A-Z0-9]){re.escape(marker.upper())}(?![A-Z0-9])", label.upper()) is not None


@dataclass(frozen=True)
class Entry:
    """One (table, family, school year) price, in whole euros as written in the file."""

    rate_euros: int
    cap_euros: int
    reference: str


@dataclass(frozen=True)
class SchoolYear:
    start: date
    end: date
    prices: Mapping[tuple[str, str], Entry]  # (table, family) -> entry


@dataclass(frozen=True)
class Deviation:
    """A documented departure of the table in force from the arrêté (§2.4, D17)."""

    id: str
    school_years: frozenset[int]
    table: str
    reference: str
    family: str | None = None
    priced_as_table: str | None = None
    priced_as_family: str | None = None


@dataclass(frozen=True)
class BaremeData:
    ministries: Mapping[str, str]
    families: Mapping[str, tuple[Family, ...]]
    school_years: Mapping[int, SchoolYear]
    deviations: tuple[Deviation, ...]


_FAMILY_KEYS = {"family", "dispositifs", "years", "diploma_in", "diploma_not_in", "label_has", "label_lacks"}
_DEVIATION_KEYS = {"id", "enabled", "school_years", "table", "family", "priced_as_table",
                   "priced_as_family", "reference"}


def parse_bareme(raw: Mapping[str, Any]) -> BaremeData:
    """Build the parameters and check that every family is priced every year and every name resolves."""
    try:
        refs: Mapping[str, str] = raw["references"]
        families = {
            table: tuple(_family(table, spec) for spec in specs) for table, specs in raw["families"].items()
        }
        years = {int(y): _school_year(spec, refs) for y, spec in raw["school_years"].items()}
        deviations = tuple(
            _deviation(spec) for spec in raw.get("deviations") or ()
            if _checked(spec, _DEVIATION_KEYS)["enabled"]
        )
        data = BaremeData(dict(raw["ministries"]), families, years, deviations)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, BaremeDataError):
            raise
        raise BaremeDataError(f"malformed barème data: {exc!r}") from exc
    _check_complete(data)
    return data


def _checked(spec: Mapping[str, Any], allowed: set[str]) -> Mapping[str, Any]:
    unknown = set(spec) - allowed
    if unknown:  # a typo in a selector would otherwise widen a family without anyone noticing
        raise BaremeDataError(f"unknown keys {sorted(unknown)} in {dict(spec)}")
    return spec


def _strings(values: Any) -> frozenset[str]:
    return frozenset(str(v) for v in values)


def _family(table: str, spec: Mapping[str, Any]) -> Family:
    _checked(spec, _FAMILY_KEYS)
    return Family(
        table=table,
        name=str(spec["family"]),
        dispositifs=_strings(spec["dispositifs"]),
        years=frozenset(int(y) for y in spec["years"]) if "years" in spec else None,
        diploma_in=_strings(spec["diploma_in"]) if "diploma_in" in spec else None,
        diploma_not_in=_strings(spec.get("diploma_not_in", ())),
        label_has=spec.get("label_has"),
        label_lacks=spec.get("label_lacks"),
    )


def _school_year(spec: Mapping[str, Any], refs: Mapping[str, str]) -> SchoolYear:
    prices: dict[tuple[str, str], Entry] = {}
    for table, entries in spec["prices"].items():
        for family, e in entries.items():
            rate, cap = e["rate"], e["cap"]
            if not (isinstance(rate, int) and isinstance(cap, int) and rate > 0 and cap > 0):
                raise BaremeDataError(f"{table} {family}: rate and cap must be positive whole euros")
            if e["ref"] not in refs:
                raise BaremeDataError(f"{table} {family}: unknown reference {e['ref']!r}")
            prices[(table, str(family))] = Entry(rate, cap, refs[e["ref"]])
    start, end = spec["period"]["start"], spec["period"]["end"]
    if not (isinstance(start, date) and isinstance(end, date) and start < end):
        raise BaremeDataError(f"bad period {start!r} – {end!r}")
    return SchoolYear(start=start, end=end, prices=prices)


def _deviation(spec: Mapping[str, Any]) -> Deviation:
    return Deviation(
        id=str(spec["id"]),
        school_years=frozenset(int(y) for y in spec["school_years"]),
        table=str(spec["table"]),
        reference=str(spec["reference"]),
        family=spec.get("family"),
        priced_as_table=spec.get("priced_as_table"),
        priced_as_family=spec.get("priced_as_family"),
    )


def _check_complete(data: BaremeData) -> None:
    for ministry, table in data.ministries.items():
        if table not in data.families:
            raise BaremeDataError(f"ministry {ministry} points to unknown table {table}")
    expected = {(t, f.name) for t, fams in data.families.items() for f in fams}
    for year, params in data.school_years.items():
        if set(params.prices) != expected:  # a missing entry would turn into a silent "unpriced"
            raise BaremeDataError(f"{year}: entries differ from families: {set(params.prices) ^ expected}")
    for d in data.deviations:
        # Exactly one substitution per deviation: a whole table, or one family for another.
        if (d.priced_as_table is None) == (d.priced_as_family is None) or (
            d.priced_as_family is not None and d.family is None
        ):
            raise BaremeDataError(f"deviation {d.id}: give priced_as_table, or family and priced_as_family")
        for table, family in ((d.table, d.family), (d.priced_as_table or d.table, d.priced_as_family)):
            if table not in data.families or (family is not None and (table, family) not in expected):
                raise BaremeDataError(f"deviation {d.id}: unknown table or family {table} {family}")
