"""Strict CSV reading shared by every file we import: header checked, every cell error kept with its line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from aplypro_students.domain.report import InvalidFile, RowError

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CellError(ValueError):
    """A refused cell; the reported code is `<column>.<problem>`, the reason never holds the value."""

    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(reason)
        self.problem, self.reason = problem, reason


def _decode(path: Path, encodings: tuple[str, ...]) -> str:
    for encoding in encodings:
        try:
            return path.read_bytes().decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidFile([RowError(0, "*", "file.encoding", f"the file is not in {' or '.join(encodings)}")])


def read_rows(path: Path, *, required: tuple[str, ...], optional: tuple[str, ...], delimiter: str = ";",
              ignore_unknown: bool = False, encodings: tuple[str, ...] = ("utf-8-sig",),
              ) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields (line, cells) per row; header problems raise at once, since no row can be read without it."""
    text = _decode(path, encodings).removeprefix("\ufeff")  # a BOM left by a fallback encoding
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    header = [h.strip().lower() for h in next(reader, [])]
    errors = [RowError(1, c, "header.missing_column", "required column absent") for c in required
              if c not in header]
    if not ignore_unknown:
        errors += [RowError(1, c or "?", "header.unknown_column", "column not in the format")
                   for c in header if c not in required + optional]
    errors += [RowError(1, c, "header.duplicate_column", "column given twice")
               for i, c in enumerate(header) if c in header[:i]]
    if errors:
        raise InvalidFile(errors)
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if len(cells) > len(header):
            yield reader.line_num, {"*": "too many fields"}
            continue
        cells += [""] * (len(header) - len(cells))  # spreadsheets often drop trailing empty cells
        yield reader.line_num, dict(zip(header, cells, strict=True))


class RowParser:
    """Reads the cells of one row, collecting errors instead of stopping at the first."""

    def __init__(self, line: int, cells: dict[str, str]) -> None:
        self.line = line
        self.cells = cells
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        if "*" in cells:
            self.errors.append(RowError(line, "*", "row.field_count", "more fields than the header"))

    def text(self, column: str) -> str:
        """The cell without control characters and with spaces collapsed; '' if absent or empty."""
        return " ".join(_CONTROL.sub(" ", self.cells.get(column, "")).split())

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


def parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError:
            continue
    raise CellError("format", "not a date (YYYY-MM-DD or DD/MM/YYYY)")


def parse_school_year(text: str) -> int:
    """`2025-2026` or `2025`; the year is named by its start."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{4}))?", text)
    if not match or (match[2] and int(match[2]) != int(match[1]) + 1):
        raise CellError("format", "not a school year (2025-2026 or 2025)")
    return int(match[1])


def parse_mef(text: str) -> str:
    """10 digits; the 11-character form of the APIs and BCN carries a check character, dropped here."""
    if not re.fullmatch(r"\d{10}.?", text):
        raise CellError("format", "a MEF has 10 digits (11 accepted, the last one dropped)")
    return text[:10]


def parse_uai(text: str) -> str:
    uai = text.upper()
    if not re.fullmatch(r"\d{7}[A-Z]", uai):
        raise CellError("format", "a UAI has 7 digits and a letter")
    return uai
