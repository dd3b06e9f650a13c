"""`run_bareme`: pricing a BCN MEF CSV built from the rows of calculation.md, for the three school years."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from aplypro_calculator.entrypoints.bareme_command import run_bareme

HEADER = "STATUT_MEF,MEF,DISPOSITIF_FORMATION,FORMATION_DIPLOME,DUREE_DISPOSITIF,ANNEE_DISPOSITIF,LIBELLE_LONG,MINISTERE"

# (CSV row, 2023-24, 2024-25, 2025-26); "" = unpriced.
ROWS = [
    ('4,2473111533,247,40025001,3,3,BAC PRO TRANSPORT FLUVIAL,MENJ', "20,800", "20,1200", "20,1000"),
    ('4,2473111532,247,40025001,3,2,BAC PRO TRANSPORT FLUVIAL,MENJ', "15,600", "15,600", "15,600"),
    ('4,2422100432,242,50025001,,,CAP EN 3 ANS,MENJ', "15,525", "15,525", "15,525"),  # year from the MEF
    ('4,2422100431,242,50025001,3,1,CAP EN 3 ANS,MENJ', ",", ",", ","),  # no allowance
    ('4,2532100111,253,1025001,1,1,"PATISSERIE, GLACERIE (MC3)",MENJ', "15,1350", "20,1800", "15,1350"),
    ('4,2532100211,253,1025002,1,1,SOMMELLERIE (MC4),MENJ', "20,1800", "20,1800", "20,1800"),
    ('4,2472120432,247,40021204,3,2,CULTURES MARINES,Mer', "15,600", "15,600", "15,600"),
    ('4,2472120433,247,40021204,3,3,CULTURES MARINES,MER', "20,800", "20,700", "20,700"),
    ('4,2472120533,247,40021205,3,3,CGEM PECHE,MER', "20,800", "20,800", "20,800"),
    ('4,2412120021,241,50021201,2,1,CAP MARITIME,MER', "10,350", "10,300", "10,300"),
    ('4,2763210033,276,40321003,3,3,BAC PRO AGRICOLE,MASA', "20,800", "20,800", "20,800"),
    ('4,2763210032,276,40321003,3,2,BAC PRO AGRICOLE,MENJ', "15,600", "15,600", "15,600"),
    ('4,2803400199,280,50321004,9,9,CAPA EN 1 AN,MASA', "15,675", "15,675", "15,675"),
    ('4,2713400121,271,50321005,2,1,CAPA,MASA', "10,450", "10,450", "10,450"),
    ('4,2473111533,247,40025001,3,3,BAC PRO,Armées', ",", ",", ","),
    ('4,9993111511,999,40025001,1,1,INCONNU,MENJ', ",", ",", ","),
]


def write_csv(tmp_path: Path, header: str = HEADER, *, bom: bool = True) -> Path:
    path = tmp_path / "MEFS.csv"
    text = "\n".join([header, *(r[0] for r in ROWS)]) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def run(school_year: str, path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_bareme(school_year, path, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("school_year", "column"), [("2023-2024", 1), ("2024-2025", 2), ("2025-2026", 3)])
def test_every_row_is_priced_in_whole_euros_or_left_empty(tmp_path: Path, school_year: str, column: int) -> None:
    code, out, err = run(school_year, write_csv(tmp_path))
    assert code == 0
    expected = ["MEF,daily_rate,yearly_cap"] + [f"{r[0].split(',')[1]},{r[column]}" for r in ROWS]
    assert out.splitlines() == expected
    assert err.strip() == (
        f"{school_year}: 16 rows, 13 priced, 3 unpriced "
        "(dispositif_not_covered: 1, ministry_without_bareme: 1, year_not_covered: 1)"
    )


def test_a_file_without_a_byte_order_mark_reads_the_same(tmp_path: Path) -> None:
    with_bom = run("2025-2026", write_csv(tmp_path))
    (tmp_path / "plain").mkdir()
    assert run("2025-2026", write_csv(tmp_path / "plain", bom=False)) == with_bom


@pytest.mark.parametrize("school_year", ["2026-2027", "2022-2023", "2025", "2025-2027", "2025/2026", ""])
def test_a_school_year_without_barème_is_a_clear_error(tmp_path: Path, school_year: str) -> None:
    code, out, err = run(school_year, write_csv(tmp_path))
    assert (code, out) == (2, "")
    assert "no barème for school year" in err
    assert "2023-2024, 2024-2025, 2025-2026" in err


def test_a_missing_required_column_is_a_clear_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER.replace(",MINISTERE", ",MINISTRY"))
    code, out, err = run("2025-2026", path)
    assert (code, out) == (2, "")
    assert "MINISTERE" in err


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    code, out, err = run("2025-2026", tmp_path / "absent.csv")
    assert (code, out) == (2, "")
    assert "cannot read" in err


def test_an_empty_file_reports_its_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    code, _, err = run("2025-2026", path)
    assert code == 2
    assert "MEF" in err
