"""Strict CSV reading shared by every file we import: header checked, every cell error kept with its line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from aplypro_contracts.text import FREE_TEXT_MAX

from aplypro_students.domain.report import InvalidFile, RowError

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ENCODING_HINT = "save it as UTF-8 (with or without BOM)"


class CellError(ValueError):
    """A refused cell; the reported code is `<column>.<problem>`, the reason never holds the value."""

    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(reason)
        self.problem, self.reason = problem, reason


def _decode(path: Path, encodings: tuple[str, ...]) -> str:
    """The text in the first encoding that fits; else the line where the first one fails is reported."""
    raw = path.read_bytes()
    first: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            first = first or exc
    line = raw.count(b"\n", 0, first.start if first else 0) + 1
    names = " or ".join("UTF-8" if e == "utf-8-sig" else e for e in encodings)
    raise InvalidFile([RowError(line, "*", "file.encoding", f"not {names} text: {ENCODING_HINT}")])


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, cells) for every row, header included; a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:  # its message never holds the cell
            raise InvalidFile([RowError(start, "*", "row.unreadable", f"not readable as CSV: {exc}")]) from None
        if cells is None:
            return
        yield start, cells


def read_rows(path: Path, *, required: tuple[str, ...], optional: tuple[str, ...], delimiter: str = ";",
              ignore_unknown: bool = False, encodings: tuple[str, ...] = ("utf-8-sig",),
              ) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields (line, cells) per row, the line where the row starts; only known columns are kept.

    Header problems raise at once, since no row can be read without it. A row the csv module cannot
    read (a field over its 131,072-character limit) also ends the file: what follows it cannot be
    trusted to start a row.
    """
    text = _decode(path, encodings).removeprefix("\ufeff")  # a BOM left by a fallback encoding
    rows = _rows(text, delimiter)
    header = [h.strip().lower() for h in next(rows, (1, []))[1]]
    known = required + optional
    errors = [RowError(1, c, "header.missing_column", "required column absent") for c in required
              if c not in header]
    if not ignore_unknown:
        errors += [RowError(1, c or "?", "header.unknown_column", "column not in the format")
                   for c in header if c not in known]
    errors += [RowError(1, c, "header.duplicate_column", "column given twice")
               for i, c in enumerate(header) if c in header[:i]]
    if errors:
        raise InvalidFile(errors)
    for start, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if len(cells) > len(header):
            yield start, {"*": "too many fields"}
            continue
        cells += [""] * (len(header) - len(cells))  # spreadsheets often drop trailing empty cells
        yield start, {h: c for h, c in zip(header, cells, strict=True) if h in known}


class RowParser:
    """Reads the cells of one row, collecting errors instead of stopping at the first.

    Every cell is checked first, as the contracts would refuse it: no control character, and at most
    `limits[column]` characters (FREE_TEXT_MAX for a column not listed), so an accepted row always
    makes valid events.
    """

    def __init__(self, line: int, cells: dict[str, str], limits: Mapping[str, int] | None = None) -> None:
        self.line = line
        self.cells = cells
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.misshapen = "*" in cells  # its cells cannot be trusted to sit in their columns
        if self.misshapen:
            self.errors.append(RowError(line, "*", "row.field_count", "more fields than the header"))
            return
        for column in cells:
            limit = (limits or {}).get(column, FREE_TEXT_MAX)
            if _CONTROL.search(cells[column]):
                self.refuse(column, "control_character", "control characters U+0000-U+001F and U+007F are not "
                                                         "allowed")
            elif len(self.text(column)) > limit:
                self.refuse(column, "too_long", f"longer than {limit} characters")

    def text(self, column: str) -> str:
        """The cell with spaces trimmed and collapsed; '' if absent or empty."""
        return " ".join(self.cells.get(column, "").split())

    def get(self, column: str, parse: Callable[[str], T], *, required: bool = False) -> T | None:
        """The parsed cell, or None when empty (an error if required) or refused."""
        text = self.text(column)
        if not text:
            if required:
                self.errors.append(RowError(self.line, column, f"{column}.missing", "a value is required"))
            return None
        try:
            return parse(text)
        except CellError as exc:
            self.errors.append(RowError(self.line, column, f"{column}.{exc.problem}", exc.reason))
            return None

    def refuse(self, column: str, problem: str, reason: str) -> None:
        self.errors.append(RowError(self.line, column, f"{column}.{problem}", reason))

    def warn(self, column: str, problem: str, reason: str) -> None:
        self.warnings.append(RowError(self.line, column, f"{column}.{problem}", reason))


def is_ascii_digits(text: str) -> bool:
    """`str.isdigit` and `\\d` also take Arabic-Indic, superscript and other digits: a count or code is ASCII."""
    return text.isascii() and text.isdigit()


def parse_date(text: str) -> date:
    if not text.isascii():  # strptime reads any Unicode digit
        raise CellError("format", "not a date (YYYY-MM-DD or DD/MM/YYYY)")
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError:
            continue
    raise CellError("format", "not a date (YYYY-MM-DD or DD/MM/YYYY)")


def parse_school_year(text: str) -> int:
    """`2025-2026` or `2025`; the year is named by its start."""
    match = re.fullmatch(r"([0-9]{4})(?:-([0-9]{4}))?", text)
    if not match or (match[2] and int(match[2]) != int(match[1]) + 1):
        raise CellError("format", "not a school year (2025-2026 or 2025)")
    return int(match[1])


def parse_mef(text: str) -> str:
    """10 digits; the 11-character form of the APIs and BCN carries a check character, dropped here."""
    if not re.fullmatch(r"[0-9]{10}.?", text):
        raise CellError("format", "a MEF has 10 digits (11 accepted, the last one dropped)")
    return text[:10]


def parse_uai(text: str) -> str:
    uai = text.upper()
    if not re.fullmatch(r"[0-9]{7}[A-Z]", uai):
        raise CellError("format", "a UAI has 7 digits and a letter")
    return uai
