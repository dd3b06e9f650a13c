"""`aplypro-calculator bareme`: price every row of a BCN MEF CSV for one school year (calculation.md §2)."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from typing import TextIO

from aplypro_calculator.domain.bareme import MefRow, Priced, load_bareme

REQUIRED_COLUMNS = (
    "MEF",
    "DISPOSITIF_FORMATION",
    "FORMATION_DIPLOME",
    "DUREE_DISPOSITIF",
    "ANNEE_DISPOSITIF",
    "LIBELLE_LONG",
    "MINISTERE",
)
USAGE_ERROR = 2  # same exit code as a bad command-line option


def _school_year(text: str, known: tuple[int, ...]) -> int | None:
    match = re.fullmatch(r"(\d{4})-(\d{4})", text.strip())
    if match is None or int(match[2]) != int(match[1]) + 1 or int(match[1]) not in known:
        return None
    return int(match[1])


def run_bareme(school_year: str, csv_path: Path, out: TextIO, err: TextIO) -> int:
    """Write `MEF,daily_rate,yearly_cap` (whole euros, both empty when unpriced) and a summary on err."""
    bareme = load_bareme()
    year = _school_year(school_year, bareme.school_years)
    if year is None:
        expected = ", ".join(f"{y}-{y + 1}" for y in bareme.school_years)
        err.write(f"error: no barème for school year {school_year!r}; expected one of {expected}\n")
        return USAGE_ERROR
    try:
        # utf-8-sig: BCN exports often start with a byte-order mark, which would corrupt the first column.
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or ()]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                err.write(f"error: {csv_path} lacks required column(s): {', '.join(missing)}\n")
                return USAGE_ERROR
            reader.fieldnames = header
            rows = [MefRow.from_bcn(raw) for raw in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        err.write(f"error: cannot read {csv_path}: {exc}\n")
        return USAGE_ERROR

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["MEF", "daily_rate", "yearly_cap"])
    unpriced: Counter[str] = Counter()
    for row in rows:
        result = bareme.price(row, year)
        if isinstance(result, Priced):
            writer.writerow([row.mef, result.daily_rate_cents // 100, result.yearly_cap_cents // 100])
        else:
            unpriced[result.reason] += 1
            writer.writerow([row.mef, "", ""])
    by_reason = ", ".join(f"{reason}: {n}" for reason, n in sorted(unpriced.items()))
    err.write(
        f"{school_year}: {len(rows)} rows, {len(rows) - unpriced.total()} priced, "
        f"{unpriced.total()} unpriced" + (f" ({by_reason})" if by_reason else "") + "\n"
    )
    return 0
