"""Reads a PFMP CSV file: `ine;uai;annee_scolaire;date_debut;date_fin;nb_jours`, checked whole before use."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aplypro_pfmp.service_layer.use_cases import RecordPfmp

REQUIRED = ("ine", "uai", "annee_scolaire", "date_debut", "date_fin")
OPTIONAL = ("nb_jours",)


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str  # never the cell value: it may be personal data


class InvalidFile(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the file")
        self.errors = errors


def parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError:
            continue
    raise ValueError("not a date (YYYY-MM-DD or DD/MM/YYYY)")


def parse_school_year(text: str) -> int:
    start = text.strip().split("-")[0]
    if not start.isdigit() or len(start) != 4:
        raise ValueError("not a school year (2025-2026 or 2025)")
    return int(start)


def read_pfmp_csv(path: Path) -> list[RecordPfmp]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
        if missing or unknown:
            raise InvalidFile([RowError(1, c, "missing column") for c in missing]
                              + [RowError(1, c, "unknown column") for c in unknown])
        commands: list[RecordPfmp] = []
        errors: list[RowError] = []
        for line, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            cells, cell_errors = _parse_cells(row)
            errors += [RowError(line, column, reason) for column, reason in cell_errors]
            if not cell_errors:
                commands.append(RecordPfmp(ine=row["ine"].upper(), uai=row["uai"].upper(), **cells))
    if errors:
        raise InvalidFile(errors)
    return commands


def _day_count(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise ValueError("not a whole number of days")
    return int(text)


PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "annee_scolaire": ("school_year", parse_school_year),
    "date_debut": ("start_date", parse_date),
    "date_fin": ("end_date", parse_date),
    "nb_jours": ("day_count", _day_count),
}


def _parse_cells(row: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Every cell of a row is checked, so one pass reports all its errors."""
    values: dict[str, Any] = {"day_count": None}
    errors: list[tuple[str, str]] = []
    for column, (field, parse) in PARSERS.items():
        if column not in row:
            continue
        try:
            values[field] = parse(row[column])
        except ValueError as exc:
            errors.append((column, str(exc)))
    return values, errors
