"""The PFMP CSV file is checked whole; errors name the line and column, never the value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from aplypro_pfmp.adapters.csv_file import CellError, InvalidFile, parse_date, read_pfmp_csv

HEADER = "ine;uai;annee_scolaire;date_debut;date_fin;nb_jours\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pfmps.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_gives_one_command_per_row(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeff" + HEADER + "000111223ab;0999001k;2025-2026;2025-11-03;21/11/2025;12\n"
                 "000111224AB;0999001K;2025;2025-12-01;2025-12-05;\n")
    first, second = read_pfmp_csv(path)
    assert (first.ine, first.uai, first.school_year) == ("000111223AB", "0999001K", 2025)
    assert (first.start_date, first.end_date, first.day_count) == (date(2025, 11, 3), date(2025, 11, 21), 12)
    assert second.day_count is None


def test_every_bad_cell_is_reported_without_its_value(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "000111223AB;0999001K;2025;2025-13-40;2025-11-21;12\n"
                 "X;0999001K;20x5;2025-11-03;2025-11-21;1.5\n")
    with pytest.raises(InvalidFile) as caught:
        read_pfmp_csv(path)
    found = {(e.line, e.column) for e in caught.value.errors}
    assert found == {(2, "date_debut"), (3, "ine"), (3, "annee_scolaire"), (3, "nb_jours")}
    assert all("2025-13-40" not in e.reason and "1.5" not in e.reason for e in caught.value.errors)


def test_missing_and_unknown_columns_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "ine;uai;date_debut;date_fin;couleur\n")
    with pytest.raises(InvalidFile) as caught:
        read_pfmp_csv(path)
    assert {(e.column, e.reason) for e in caught.value.errors} == {
        ("annee_scolaire", "missing column"), ("couleur", "unknown column")}


def test_a_header_over_the_csv_field_limit_is_reported_on_line_1(tmp_path: Path) -> None:
    with pytest.raises(InvalidFile) as caught:
        read_pfmp_csv(write(tmp_path, "x" * 140_000 + ";" + HEADER))
    assert [(e.line, e.column) for e in caught.value.errors] == [(1, "*")]


@pytest.mark.parametrize(("text", "read"), [
    ("2025-11-03", date(2025, 11, 3)), ("03/11/2025", date(2025, 11, 3)), ("3/11/2025", date(2025, 11, 3)),
    ("2024-02-29", date(2024, 2, 29)), ("2025-02-30", None), ("30/02/2025", None), ("2025-1-03", date(2025, 1, 3)),
    ("20251103", None), ("2025-11-03T00:00", None), ("２０２５-11-03", None), ("2025-11-3 ", date(2025, 11, 3)),
])
def test_dates_read_as_before_the_iso_fast_path(text: str, read: date | None) -> None:
    """ISO dates are read without strptime; what strptime accepted (a one-digit day or month) still is, and
    an impossible day is refused with the same reason."""
    if read is None:
        with pytest.raises(CellError, match=r"^not a date"):
            parse_date(text.strip())
    else:
        assert parse_date(text.strip()) == read
