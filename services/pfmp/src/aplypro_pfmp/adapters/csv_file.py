"""Reads a PFMP CSV file: `ine;uai;annee_scolaire;date_debut;date_fin;nb_jours`, checked whole before use.

Lines are the file's own (a blank line counts, a quoted cell may span lines: its row starts where it
starts). Refused with their line, never with the value: a file that is not UTF-8 (with or without
BOM), a row the csv module cannot read (a field over its 131,072-character limit ends the file: what
follows cannot be trusted to start a row), more cells than the header, a control character, a code
that is not an INE or a UAI, a school year other than `YYYY` or `YYYY-(YYYY+1)`, and digits other
than ASCII ones (`str.isdigit`, `\\d` and `strptime` all take Arabic-Indic or superscript digits).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aplypro_pfmp.service_layer.use_cases import RecordPfmp

REQUIRED = ("ine", "uai", "annee_scolaire", "date_debut", "date_fin")
OPTIONAL = ("nb_jours",)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header
    column: str  # `*`: the whole row (or the file from that line on)
    reason: str  # never the cell value: it may be personal data


class InvalidFile(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the file")
        self.errors = errors


class CellError(ValueError):
    """A refused cell; the message is the reason, without the value."""


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")  # the common form, read without strptime (10× dearer)


def parse_date(text: str) -> date:
    if iso := _ISO_DATE.fullmatch(text):
        try:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            raise CellError("not a date (YYYY-MM-DD or DD/MM/YYYY)") from None
    if text.isascii():
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time
            except ValueError:
                continue
    raise CellError("not a date (YYYY-MM-DD or DD/MM/YYYY)")


def parse_school_year(text: str) -> int:
    """`2025-2026` or `2025`; the year is named by its start."""
    match = re.fullmatch(r"([0-9]{4})(?:-([0-9]{4}))?", text)
    if not match or (match[2] and int(match[2]) != int(match[1]) + 1):
        raise CellError("not a school year (2025-2026 or 2025)")
    return int(match[1])


def parse_ine(text: str) -> str:
    if not re.fullmatch(r"[0-9]{10}[A-Z]|[0-9]{9}[A-Z]{2}", text.upper()):
        raise CellError("not an INE (10 digits and a letter, or 9 digits and 2 letters)")
    return text.upper()


def parse_uai(text: str) -> str:
    if not re.fullmatch(r"[0-9]{7}[A-Z]", text.upper()):
        raise CellError("not a UAI (7 digits and a letter)")
    return text.upper()


def _day_count(text: str) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise CellError("not a whole number of days (ASCII digits)")
    return int(text)


PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "ine": ("ine", parse_ine),
    "uai": ("uai", parse_uai),
    "annee_scolaire": ("school_year", parse_school_year),
    "date_debut": ("start_date", parse_date),
    "date_fin": ("end_date", parse_date),
    "nb_jours": ("day_count", _day_count),
}


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InvalidFile([RowError(line, "*", "not UTF-8 text: save it as UTF-8 (with or without BOM)")]) from None


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, cells) for every row, header included."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:  # its message never holds the cell
            raise InvalidFile([RowError(start, "*", f"not readable as CSV: {exc}")]) from None
        if cells is None:
            return
        yield start, cells


def _header(cells: list[str]) -> list[str]:
    header = [h.strip() for h in cells]
    errors = [RowError(1, c, "missing column") for c in REQUIRED if c not in header]
    errors += [RowError(1, c, "unknown column") for c in header if c not in REQUIRED + OPTIONAL]
    errors += [RowError(1, c, "column given twice") for i, c in enumerate(header) if c in header[:i]]
    if errors:
        raise InvalidFile(errors)
    return header


def read_pfmp_lines(path: Path) -> list[tuple[int, RecordPfmp]]:
    """Every row as (its line, its command); any refused cell raises InvalidFile with all of them."""
    rows = _rows(_decode(path))
    header = _header(next(rows, (1, []))[1])
    commands: list[tuple[int, RecordPfmp]] = []
    errors: list[RowError] = []
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if len(cells) > len(header):
            errors.append(RowError(line, "*", "more cells than the header"))
            continue
        cells += [""] * (len(header) - len(cells))  # spreadsheets often drop trailing empty cells
        values, cell_errors = _parse_cells(dict(zip(header, cells, strict=True)))
        errors += [RowError(line, column, reason) for column, reason in cell_errors]
        if not cell_errors:
            commands.append((line, RecordPfmp(**values)))
    if errors:
        raise InvalidFile(errors)
    return commands


def read_pfmp_csv(path: Path) -> list[RecordPfmp]:
    return [command for _, command in read_pfmp_lines(path)]


def _parse_cells(row: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Every cell of a row is checked, so one pass reports all its errors."""
    values: dict[str, Any] = {"day_count": None}
    errors: list[tuple[str, str]] = []
    for column, (field, parse) in PARSERS.items():
        if column not in row:
            continue
        if _CONTROL.search(row[column]):
            errors.append((column, "control characters U+0000-U+001F and U+007F are not allowed"))
            continue
        try:
            values[field] = parse(row[column].strip())
        except CellError as exc:
            errors.append((column, str(exc)))
    return values, errors
