"""Reads the academic calendar file: `academie;annee_scolaire;premier_jour;dernier_jour`, checked whole.

One row per academy and school year (`14;2025-2026;2025-09-01;2026-08-31`); the academy is its 2-digit code
(imports.md §6.1). Any refused row refuses the file, each reported with its line (reference data, no
personal data here).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from aplypro_pfmp.adapters.csv_file import CellError, InvalidFile, RowError, parse_date, parse_school_year
from aplypro_pfmp.domain.school_years import CalendarEntry, CalendarError, check_no_shared_day

HEADER = ["academie", "annee_scolaire", "premier_jour", "dernier_jour"]
SAMPLE = Path(__file__).resolve().parent.parent / "reference" / "school_years_sample.csv"


def read_calendar(path: Path) -> list[CalendarEntry]:
    errors: list[RowError] = []
    entries: list[CalendarEntry] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidFile([RowError(1, "*", "not UTF-8 text")]) from None
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    if not rows or [h.strip().lower() for h in rows[0]] != HEADER:
        raise InvalidFile([RowError(1, "*", "the header must be `" + ";".join(HEADER) + "`")])
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            errors.append(RowError(line, "*", f"expected {len(HEADER)} cells"))
            continue
        academy, year, first, last = (cell.strip() for cell in row)
        try:
            if not re.fullmatch(r"[0-9]{2}", academy):
                raise CellError("an academy code has 2 digits")
            entries.append(CalendarEntry(academy, parse_school_year(year), parse_date(first), parse_date(last)))
        except (CellError, CalendarError) as exc:
            errors.append(RowError(line, "*", str(exc)))
    if not errors:
        try:
            check_no_shared_day(entries)
        except CalendarError as exc:
            errors.append(RowError(1, "*", str(exc)))
    if errors:
        raise InvalidFile(errors)
    return entries
