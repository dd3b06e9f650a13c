"""The indicators as CSV (features.md §4, "Exports"): `;`-separated, no quoting, no BOM, amounts and ratios with
2 decimals and a decimal comma, an infinite ratio as *Infini*; one row per key (an establishment's UAI, an
academy's code, or the nation).

Counts are whole numbers and are written as such; amounts are integer cents written as euros exactly
(`12345` cents -> `123,45`), never through a float. Pure: the caller supplies the rows.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from .indicators import INFINITE, Counts

Kind = Literal["count", "cents", "ratio"]


@dataclass(frozen=True)
class Column:
    key: str  # features.md §4's key: the CSV header's stable name for programs
    label: str  # the French label schools and academies read
    kind: Kind


# features.md §4's order: its 26 stored columns, then the three computed ones.
COLUMNS: tuple[Column, ...] = (
    Column("yearly_sum", "Mt. annuel total", "cents"),
    Column("schoolings_count", "Nb. scolarités", "count"),
    Column("attributive_decisions_count", "Nb. DA", "count"),
    Column("attributive_decisions_ratio", "Part DA", "ratio"),
    Column("students_count", "Nb. élèves", "count"),
    Column("ribs_count", "Nb. coord. bancaires", "count"),
    Column("ribs_ratio", "Part coord. bancaires", "ratio"),
    Column("students_data_count", "Nb. données élèves", "count"),
    Column("students_data_ratio", "Part données élèves", "ratio"),
    Column("pfmps_count", "Toutes PFMPs", "count"),
    Column("pfmps_validated_count", "Nb. PFMPs validées", "count"),
    Column("pfmps_validated_sum", "Mt. PFMPs validées", "cents"),
    Column("pfmps_completed_count", "Nb. PFMPs complétées", "count"),
    Column("pfmps_completed_sum", "Mt. PFMPs complétées", "cents"),
    Column("pfmps_incompleted_count", "Nb. PFMPs incomplètes", "count"),
    Column("pfmps_incompleted_sum", "Mt. PFMPs incomplètes", "cents"),
    Column("payment_requests_paid_count", "Dem. payées", "count"),
    Column("payment_requests_paid_sum", "Mt. payé", "cents"),
    Column("payment_requests_recovery_sum", "Mt. OR", "cents"),
    Column("students_paid_count", "Nb. élèves payés", "count"),
    Column("students_paid_ratio", "Part élèves payés", "ratio"),
    Column("pfmps_paid_count", "Nb. PFMPs payées", "count"),
    Column("pfmps_payable_count", "Nb. PFMPs payables", "count"),
    Column("pfmps_paid_payable_ratio", "Part PFMPs payées/payables", "ratio"),
    Column("pfmps_extended_count", "Nb. PFMPs reportées", "count"),
    Column("pfmps_extended_sum", "Mt. PFMPs reportées", "cents"),
    Column("payment_requests_sent_count", "Dem. envoyées", "count"),
    Column("payment_requests_integrated_count", "Dem. intégrées", "count"),
    Column("pfmps_validated_ratio", "Part PFMPs validées", "ratio"),
)


class UnsafeCsvValue(ValueError):
    """A key that would break the unquoted format (a `;`, a quote or a line break): refused, never escaped."""

    code = "unsafe_csv_value"


def cents_text(cents: int) -> str:
    """`123456` -> `1234,56`; `-5` -> `-0,05` (exact integer arithmetic)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole},{rest:02d}"


def ratio_text(value: Fraction | None) -> str:
    """`2/3` -> `0,67` (half away from zero on the third decimal); None (infinite) -> Infini."""
    if value is None:
        return INFINITE
    hundredths = (abs(value) * 100 * 2 + 1) // 2  # round half up, exactly
    return cents_text(int(hundredths) if value >= 0 else -int(hundredths))


def value_of(counts: Counts, column: Column) -> str:
    if column.kind == "ratio":
        return ratio_text(counts.ratios[column.key])
    number = int(getattr(counts, column.key))
    return cents_text(number) if column.kind == "cents" else str(number)


def csv_text(key_label: str, rows: Iterable[tuple[str, Counts]]) -> str:
    """The header (French labels) and one line per (key, counts), `\\n`-terminated."""
    return csv_table((key_label,), (((key,), counts) for key, counts in rows))


def csv_table(key_labels: Sequence[str], rows: Iterable[tuple[Sequence[str], Counts]]) -> str:
    """As csv_text, with several key columns (an establishment's UAI, name, ministry, academy and sector)."""
    lines = [";".join([*key_labels, *(c.label for c in COLUMNS)])]
    for keys, counts in rows:
        if len(keys) != len(key_labels):
            raise ValueError("one value per key column")
        if any(ch in key for key in keys for ch in ';"\r\n'):
            raise UnsafeCsvValue("a key holds a separator, a quote or a line break")
        lines.append(";".join([*keys, *(value_of(counts, c) for c in COLUMNS)]))
    return "\n".join(lines) + "\n"


_UNQUOTABLE = str.maketrans({";": ",", '"': "'", "\r": " ", "\n": " "})


def plain_text(value: str) -> str:
    """A free-text cell (an establishment's name) made safe for the unquoted format: `;` becomes `,`, a quote
    an apostrophe and a line break a space. Keys (codes) are refused instead: a changed code would mislead."""
    return value.translate(_UNQUOTABLE)


def zip_of(files: Sequence[tuple[str, str]]) -> bytes:
    """A zip of (name, CSV text) pairs, UTF-8 without BOM."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))  # fixed: same data, same bytes
            archive.writestr(info, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
