"""The students CSV of imports.md §3.3: strict header, normalised cells, every error located, no values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.domain.model import Address, SchoolingStatus, Sex
from aplypro_students.domain.report import InvalidFile

from .conftest import DATA, GOOD_ROW, HEADER, UAI

WriteCsv = Callable[..., Path]


def codes(path: Path) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.code) for e in read_students_csv(path, uai=UAI).errors]


def test_the_sample_file_is_read_and_normalised() -> None:
    parsed = read_students_csv(DATA / "students.csv", uai=UAI)  # BOM, mixed date formats, 11-char MEF
    assert parsed.errors == []
    assert parsed.warnings == []
    haddad, leroy, moreau = parsed.records
    assert haddad.identity.ine == "000111223AB"  # upper-cased on read
    assert haddad.identity.address == Address(("8 rue Pasteur",), "35000", "35238", "RENNES", "99100")
    assert (haddad.line, haddad.school_year, haddad.class_label) == (2, 2025, "TLE PRO MELEC")
    assert leroy.identity.first_names == ("Inès", "Marie", "Jeanne")  # three kept, spaces trimmed
    assert leroy.identity.birth_city_insee is None
    assert leroy.identity.birth_country_insee == "99350"
    assert (leroy.mef_code, leroy.end_date) == ("2473121133", date(2025, 12, 19))  # check character dropped
    assert moreau.identity.sex is Sex.MALE  # H = M
    assert moreau.identity.birth_country_insee == "99100"  # 100 accepted for 99100
    assert moreau.identity.birth_city_insee == "2A004"
    assert (moreau.start_date, moreau.status, moreau.school_year) == (date(2025, 9, 1), SchoolingStatus.APPRENTICE,
                                                                      2025)


def test_column_order_is_free_crlf_is_accepted_and_optional_columns_may_be_absent(write_csv: WriteCsv) -> None:
    path = write_csv("code_mef;classe;date_debut;nom;ine;prenoms;date_naissance;annee_scolaire\r",
                     "2473121133;TLE PRO MELEC;2025-09-01;HADDAD;000111223AB;Mehdi;2007-11-02;2025-2026\r")
    parsed = read_students_csv(path, uai=UAI)
    (record,) = parsed.records
    assert (record.identity.last_name, record.status, record.end_date) == ("HADDAD", SchoolingStatus.STUDENT, None)
    assert record.identity.sex is Sex.UNKNOWN
    assert [(w.column, w.code) for w in parsed.warnings] == [("sexe", "sexe.unknown")]


def test_missing_unknown_and_duplicate_columns_refuse_the_whole_file(write_csv: WriteCsv) -> None:
    header = HEADER.replace("prenoms;", "").replace("statut", "remarque") + ";ine"
    with pytest.raises(InvalidFile) as caught:
        read_students_csv(write_csv(header, GOOD_ROW), uai=UAI)
    assert {(e.line, e.column, e.code) for e in caught.value.errors} == {
        (1, "prenoms", "header.missing_column"), (1, "remarque", "header.unknown_column"),
        (1, "ine", "header.duplicate_column"),
    }


def test_the_legacy_header_set_is_not_accepted(write_csv: WriteCsv) -> None:
    legacy = "ine;prénom;nom;date_naissance;label_classe;mef_code;année_scolaire;date_début;date_fin"
    with pytest.raises(InvalidFile) as caught:
        read_students_csv(write_csv(legacy, "000111223AB;Mehdi;HADDAD;02/11/2007;TLE;2473121133;2025;01/09/2025;"),
                          uai=UAI)
    assert {e.column for e in caught.value.errors if e.code == "header.missing_column"} == {
        "annee_scolaire", "prenoms", "classe", "code_mef", "date_debut"}
    assert {e.column for e in caught.value.errors if e.code == "header.unknown_column"} == {
        "prénom", "label_classe", "mef_code", "année_scolaire", "date_début"}


@pytest.mark.parametrize(("old", "new", "column", "code"), [
    ("000111223AB", "00011122AB", "ine", "ine.format"),
    ("000111223AB", "", "ine", "ine.missing"),
    ("HADDAD", "", "nom", "nom.missing"),
    (";Mehdi;", "; , ;", "prenoms", "prenoms.missing"),
    ("2007-11-02", "2007-13-02", "date_naissance", "date_naissance.format"),
    ("2007-11-02", "2026-01-01", "date_naissance", "date_naissance.after_start"),
    (";M;", ";X;", "sexe", "sexe.value"),
    ("35238;99100;8", "3523;99100;8", "commune_naissance_insee", "commune_naissance_insee.format"),
    ("35238;99100;8", "35238;9910;8", "pays_naissance_insee", "pays_naissance_insee.format"),
    ("2473121133", "247312113", "code_mef", "code_mef.format"),
    ("scolaire", "stagiaire", "statut", "statut.value"),
    ("2025-2026", "2025-2027", "annee_scolaire", "annee_scolaire.format"),
    ("2025-09-01;", "2025-09-01;2025-08-31", "date_fin", "date_fin.before_start"),
    ("2025-09-01;", "", "date_debut", "date_debut.missing"),
    ("2025-09-01;", "2025-09-01;;extra", "*", "row.field_count"),
])
def test_each_kind_of_cell_error_is_located_without_its_value(
    write_csv: WriteCsv, old: str, new: str, column: str, code: str,
) -> None:
    bad = GOOD_ROW.replace(old, new, 1)
    parsed = read_students_csv(write_csv(HEADER, GOOD_ROW, bad), uai=UAI)
    assert [(e.line, e.column, e.code) for e in parsed.errors] == [(3, column, code)]
    assert len(parsed.records) == 1  # the good row is still read; the importer decides what to do
    value = new.strip(";")
    if len(value) > 3:  # the report never carries the refused value
        assert all(value not in str(e) for e in parsed.errors)


def test_a_uai_column_must_name_the_target_establishment(write_csv: WriteCsv) -> None:
    path = write_csv(HEADER + ";uai", GOOD_ROW + ";0999001k", GOOD_ROW.replace("223AB", "224AC") + ";0999002L")
    assert codes(path) == [(3, "uai", "uai.mismatch")]


def test_one_file_is_one_school_year(write_csv: WriteCsv) -> None:
    other_year = GOOD_ROW.replace("2025-2026", "2024-2025").replace("2025-09-01", "2024-09-02")
    assert codes(write_csv(HEADER, GOOD_ROW, other_year)) == [(3, "annee_scolaire", "annee_scolaire.mixed")]


def test_a_file_that_is_not_utf8_is_refused(write_csv: WriteCsv) -> None:
    with pytest.raises(InvalidFile) as caught:
        read_students_csv(write_csv(HEADER, GOOD_ROW.replace("Mehdi", "Léa"), encoding="cp1252"), uai=UAI)
    assert [(e.line, e.code) for e in caught.value.errors] == [(2, "file.encoding")]  # where the first bad byte is
    assert caught.value.errors[0].reason == "not UTF-8 text: save it as UTF-8 (with or without BOM)"


def test_a_header_over_the_csv_field_limit_is_reported_on_line_1(write_csv: WriteCsv) -> None:
    with pytest.raises(InvalidFile) as caught:
        read_students_csv(write_csv(HEADER + ";" + "x" * 140_000, GOOD_ROW), uai=UAI)
    assert [(e.line, e.column, e.code) for e in caught.value.errors] == [(1, "*", "row.unreadable")]


def test_blank_lines_are_skipped_and_quoted_cells_are_read(write_csv: WriteCsv) -> None:
    quoted = GOOD_ROW.replace("8 rue Pasteur", '"8; rue ""Pasteur"""')
    parsed = read_students_csv(write_csv(HEADER, "", quoted, ";;;"), uai=UAI)
    assert parsed.errors == []
    assert parsed.records[0].identity.address.lines == ('8; rue "Pasteur"',)
    assert parsed.records[0].line == 3
