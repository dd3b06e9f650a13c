"""Hostile students files (issue 9): each one ends in a line-numbered report, exit 2, and nothing imported."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aplypro_servicekit.record_size import set_max_record_bytes
from aplypro_students.entrypoints.cli import app
from typer.testing import CliRunner

from .conftest import DATA, GOOD_ROW, HEADER, UAI

pytestmark = pytest.mark.integration
WriteCsv = Callable[..., Path]

FULL_HEADER = HEADER + ";adresse_ligne2;adresse_ligne3;adresse_ligne4"
COLUMNS = FULL_HEADER.split(";")
BASE = dict(zip(COLUMNS, (GOOD_ROW + ";;;").split(";"), strict=True))
OTHER, THIRD, FOURTH = "000111224AC", "000111225AD", "000111227AF"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def row(**cells: str) -> str:
    return ";".join({**BASE, **cells}[c] for c in COLUMNS)


@pytest.fixture
def loaded(cli: CliRunner) -> CliRunner:
    assert cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]).exit_code == 0
    assert cli.invoke(app, ["load-mefs", str(DATA / "mefs.csv"), "--school-year", "2025"]).exit_code == 0
    return cli


def students(cli: CliRunner) -> int:
    count: int = json.loads(cli.invoke(app, ["status"]).stdout)["students"]
    return count


def refused(cli: CliRunner, path: Path, *options: str) -> list[str]:
    """Runs the import, checks it refused the file as a whole, and returns the report lines."""
    result = cli.invoke(app, ["import-csv", str(path), "--uai", UAI, *options])
    assert result.exit_code == 2, result.output
    assert students(cli) == 0
    report: list[str] = result.stderr.splitlines()
    assert report[-1].startswith("nothing imported:")
    return report[:-1]


def test_a_field_over_the_csv_limit_is_reported_by_line(loaded: CliRunner, write_csv: WriteCsv) -> None:
    # csv refuses fields over 131,072 characters: the file cannot be read past that row
    path = write_csv(FULL_HEADER, row(), row(ine=OTHER, adresse_ligne1="x" * 200_000), row(ine=THIRD))
    report = refused(loaded, path, "--accept-valid-rows")
    assert len(report) == 1
    assert report[0].startswith("line 3, column *: row.unreadable (")


def test_digits_must_be_ascii_and_a_school_year_two_consecutive_years(
    loaded: CliRunner, write_csv: WriteCsv,
) -> None:
    path = write_csv(FULL_HEADER, row(),
                     row(ine=OTHER, date_debut="2025-09-01".translate(ARABIC_INDIC)),
                     row(ine=THIRD.translate(ARABIC_INDIC)),
                     row(ine=FOURTH, annee_scolaire="2025-2026".translate(ARABIC_INDIC)),
                     row(ine="000111228AG", code_mef="2473121133".translate(ARABIC_INDIC)),
                     row(ine="000111229AH", annee_scolaire="2025-1999"))
    assert refused(loaded, path) == [
        "line 3, column date_debut: date_debut.format (not a date (YYYY-MM-DD or DD/MM/YYYY))",
        "line 4, column ine: ine.format (an INE is 10 digits and a letter, or 9 digits and 2 letters)",
        "line 5, column annee_scolaire: annee_scolaire.format (not a school year (2025-2026 or 2025))",
        "line 6, column code_mef: code_mef.format (a MEF has 10 digits (11 accepted, the last one dropped))",
        "line 7, column annee_scolaire: annee_scolaire.format (not a school year (2025-2026 or 2025))",
    ]


def test_one_ine_with_two_identities_refuses_both_rows(loaded: CliRunner, write_csv: WriteCsv) -> None:
    # line 2 and line 4 are the same student with another last name: neither row can be trusted
    path = write_csv(FULL_HEADER, row(), row(ine=OTHER, nom="LEROY"), row(nom="HADAD"))
    report = refused(loaded, path)
    assert report == [
        f"line {n}, column ine: ine.conflicting_identity (the same INE is on lines 2 and 4 with different "
        "identities)" for n in (2, 4)]
    assert not any(secret in text for text in report for secret in ("000111223", "HADDAD", "HADAD"))
    # with --accept-valid-rows the other student goes in, and neither of the two rows
    result = loaded.invoke(app, ["import-csv", str(path), "--uai", UAI, "--accept-valid-rows"])
    assert result.exit_code == 0, result.output
    assert [r["line"] for r in json.loads(result.stdout)["rejected"]] == [2, 4]
    assert students(loaded) == 1


def test_one_ine_on_two_rows_with_the_same_identity_is_still_one_student(
    loaded: CliRunner, write_csv: WriteCsv,
) -> None:
    # a class change within the year: two rows, one student; an address left empty is not a conflict
    path = write_csv(FULL_HEADER, row(date_fin="2025-10-31"),
                     row(classe="1ERE PRO MELEC", code_mef="2473121132", date_debut="2025-11-01", adresse_ligne1=""))
    result = loaded.invoke(app, ["import-csv", str(path), "--uai", UAI])
    assert result.exit_code == 0, result.output
    assert (students(loaded), json.loads(result.stdout)["schoolings"]) == (1, 2)


def test_control_characters_are_refused_with_the_field_name(loaded: CliRunner, write_csv: WriteCsv) -> None:
    path = write_csv(FULL_HEADER, row(nom="HAD\x01DAD"), row(ine=OTHER, adresse_ligne1="8 rue\tPasteur"),
                     row(ine=THIRD, commune_residence="RENNES\x7f"), row(ine=FOURTH, classe='"TLE\nPRO"'),
                     row(ine="000111228AG"))
    reason = "(control characters U+0000-U+001F and U+007F are not allowed)"
    assert refused(loaded, path) == [
        f"line 2, column nom: nom.control_character {reason}",
        f"line 3, column adresse_ligne1: adresse_ligne1.control_character {reason}",
        f"line 4, column commune_residence: commune_residence.control_character {reason}",
        f"line 5, column classe: classe.control_character {reason}",  # where the quoted cell starts
    ]


def test_over_long_values_are_refused_with_the_field_name(loaded: CliRunner, write_csv: WriteCsv) -> None:
    path = write_csv(FULL_HEADER, row(nom="N" * 101), row(ine=OTHER, prenoms="Mehdi, " + "P" * 101),
                     row(ine=THIRD, classe="C" * 201, adresse_ligne4="A" * 201),
                     row(ine=FOURTH, nom="N" * 100, prenoms=",".join(["P" * 100] * 3), classe="C" * 200,
                         adresse_ligne1="A" * 200, commune_residence="R" * 200))
    assert refused(loaded, path) == [
        "line 2, column nom: nom.too_long (longer than 100 characters)",
        "line 3, column prenoms: prenoms.too_long (a first name is longer than 100 characters)",
        "line 4, column classe: classe.too_long (longer than 200 characters)",
        "line 4, column adresse_ligne4: adresse_ligne4.too_long (longer than 200 characters)",
    ]
    # the values at the limits are accepted
    result = loaded.invoke(app, ["import-csv", str(path), "--uai", UAI, "--accept-valid-rows"])
    assert result.exit_code == 0, result.output
    assert students(loaded) == 1


@pytest.fixture
def small_records() -> Iterator[int]:
    limit = 2_000  # an ordinary row's events are under 1,500 bytes; the long row's StudentRegistered is over
    set_max_record_bytes(limit)
    yield limit
    set_max_record_bytes(None)


def test_a_row_whose_event_is_too_large_is_reported_by_line(
    loaded: CliRunner, write_csv: WriteCsv, small_records: int,
) -> None:
    long_cells = {f"adresse_ligne{n}": "A" * 200 for n in range(1, 5)}
    path = write_csv(FULL_HEADER, row(), row(ine=OTHER, nom="N" * 100, prenoms=",".join(["P" * 100] * 3),
                                             commune_residence="R" * 200, **long_cells), row(ine=THIRD))
    (report,) = refused(loaded, path, "--accept-valid-rows")
    assert report.startswith("line 3, column *: row.record_too_large (")
    assert f"{small_records}-byte" in report
