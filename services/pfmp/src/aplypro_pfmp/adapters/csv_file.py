"""Reads a PFMP CSV file: `ine;uai;annee_scolaire;date_debut;date_fin;nb_jours`, checked whole before use."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

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
        commands, errors = [], []
        for line, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            try:
                commands.append(_to_command(row))
            except _CellError as exc:
                errors.append(RowError(line, exc.column, exc.reason))
    if errors:
        raise InvalidFile(errors)
    return commands


class _CellError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def _cell(row: dict[str, str], column: str, parse):  # type: ignore[no-untyped-def]
    try:
        return parse(row[column])
    except ValueError as exc:
        raise _CellError(column, str(exc)) from None


def _day_count(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise ValueError("not a whole number of days")
    return int(text)


def _to_command(row: dict[str, str]) -> RecordPfmp:
    return RecordPfmp(
        ine=row["ine"].upper(), uai=row["uai"].upper(),
        school_year=_cell(row, "annee_scolaire", parse_school_year),
        start_date=_cell(row, "date_debut", parse_date), end_date=_cell(row, "date_fin", parse_date),
        day_count=_cell(row, "nb_jours", _day_count) if "nb_jours" in row else None,
    )
