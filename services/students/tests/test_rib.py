"""Bank details at entry (imports.md §8): schwifty checks, SEPA lists as data, BIC rules, holder name charset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aplypro_students.adapters.csv_ribs import read_ribs_csv
from aplypro_students.domain.report import InvalidFile
from aplypro_students.domain.rib import (
    InvalidBankDetails,
    OwnerType,
    RibError,
    asp_holder_name,
    check_bank_details,
    check_bic,
    check_holder_name,
    check_iban,
)

from .conftest import DATA, UAI

WriteCsv = Callable[..., Path]
FR_IBAN = "FR76 3000 6000 0112 3456 7890 189"


def refused(check: Callable[[str], str], value: str) -> str:
    with pytest.raises(RibError) as caught:
        check(value)
    assert not value or value not in str(caught.value)  # error texts never carry the value
    return caught.value.code


def test_a_french_iban_is_normalised() -> None:
    assert check_iban(" fr76 3000\t6000 0112 3456 7890 189 ") == "FR7630006000011234567890189"


@pytest.mark.parametrize(("iban", "code"), [
    ("FR7630006000011234567890188", "iban.checksum"),  # mod-97 broken by the last digit
    ("FR763000600001123456789018", "iban.length"),
    ("FR7730006000011234567890189", "iban.checksum"),
    ("XX7630006000011234567890189", "iban.country"),
    ("FR76300060000112345678901$9", "iban.format"),
    ("TR330006100519786457841326", "iban.sepa"),  # a valid Turkish IBAN, outside SEPA
    ("", "iban.blank"),
])
def test_iban_refusals(iban: str, code: str) -> None:
    assert refused(check_iban, iban) == code


def test_a_wrong_french_rib_key_is_caught_even_with_right_check_digits() -> None:
    # same BBAN with a wrong clé RIB, IBAN check digits recomputed so that mod-97 holds
    bban = "30006000011234567890100"
    digits = "".join(str(int(c, 36)) for c in bban + "FR00")
    iban = f"FR{98 - int(digits) % 97:02d}{bban}"
    assert refused(check_iban, iban) == "iban.bban_checksum"


@pytest.mark.parametrize("bic", ["AGRIFRPP", "agri frpp", "BNPAFRPPXXX", "DEUTDEFF500", "BFCORERX"])
def test_valid_bics(bic: str) -> None:
    assert check_bic(bic) == bic.replace(" ", "").upper()


@pytest.mark.parametrize(("bic", "code"), [
    ("AGRIFRP", "bic.format"),
    ("AGRIFRPP12", "bic.format"),
    ("AGR1FRPP", "bic.format"),
    ("AGRIFR0P", "bic.location"),  # the first location character may not be 0 or 1
    ("AGRIFR1P", "bic.location"),
    ("AGRIFRPO", "bic.location"),  # the second may not be the letter O
    ("AGRIFRPPXAB", "bic.branch"),  # a branch starting with X is XXX
    ("AGRIQQPP", "bic.country"),
    ("BNPANCNX", "bic.sepa"),  # a New Caledonian bank: FR IBAN possible, ASP refuses
])
def test_bic_refusals(bic: str, code: str) -> None:
    assert refused(check_bic, bic) == code


def test_holder_names_keep_their_accents_and_are_transliterated_for_the_asp() -> None:
    assert check_holder_name("  Œuvre   d’Enfance\tSAINT-ÉLOI ") == "Œuvre d’Enfance SAINT-ÉLOI"
    assert asp_holder_name("Œuvre d’Enfance SAINT-ÉLOI") == "OEuvre d'Enfance SAINT-ELOI"
    assert asp_holder_name("A" * 40) == "A" * 32


@pytest.mark.parametrize(("name", "code"), [
    ("王小明", "holder_name.invalid_characters"),
    ("HADDAD Mehdi 🙂", "holder_name.invalid_characters"),
    ("HADDAD & fils", "holder_name.invalid_characters"),
    ("   ", "holder_name.blank"),
    ("A" * 71, "holder_name.too_long"),
])
def test_holder_name_refusals(name: str, code: str) -> None:
    assert refused(check_holder_name, name) == code


def test_all_refusals_of_a_row_are_reported_together() -> None:
    with pytest.raises(InvalidBankDetails) as caught:
        check_bank_details(OwnerType.PERSONAL, "王", "FR7630006000011234567890188", "AGRIFR0P")
    assert [e.code for e in caught.value.errors] == [
        "holder_name.invalid_characters", "iban.checksum", "bic.location"]


def test_the_sample_rib_file_is_read_with_owner_types_mapped() -> None:
    parsed = read_ribs_csv(DATA / "ribs.csv", uai=None)
    assert parsed.errors == []
    first, second = parsed.entries
    assert (first.ine, first.uai, first.details.owner_type) == ("000111223AB", UAI, OwnerType.PERSONAL)
    assert (first.details.holder_name, first.details.iban, first.details.bic) == (
        "HADDAD Mehdi", "FR7630006000011234567890189", "AGRIFRPP")
    assert second.details.owner_type is OwnerType.MORAL_PERSON
    assert second.details.iban == "FR1420041010050500013M02606"


def test_a_rib_file_without_uai_needs_the_option(write_csv: WriteCsv) -> None:
    with pytest.raises(InvalidFile) as caught:
        read_ribs_csv(write_csv("ine;titulaire;type_titulaire;iban;bic"), uai=None)
    assert [(e.column, e.code) for e in caught.value.errors] == [("uai", "header.missing_column")]


def test_rib_rows_report_line_column_and_key_but_never_the_values(write_csv: WriteCsv) -> None:
    path = write_csv(
        "ine;titulaire;type_titulaire;iban;bic",
        f"000111223AB;HADDAD Mehdi;eleve;{FR_IBAN};AGRIFRPP",
        "000111226AE;LEROY Inès;parent;TR330006100519786457841326;BNPANCNX",
        f"000111223AB;HADDAD Mehdi;mandat;{FR_IBAN};AGRIFRPP",
        f"000111229AH;{'MOREAU ' * 5}Léa;representant_ou_tiers;{FR_IBAN};AGRIFRPP",
    )
    parsed = read_ribs_csv(path, uai=UAI)
    assert [(e.line, e.column, e.code) for e in parsed.errors] == [
        (3, "type_titulaire", "type_titulaire.value"), (4, "ine", "ine.duplicate")]
    assert [(w.line, w.code) for w in parsed.warnings] == [(5, "titulaire.truncated")]
    assert [e.line for e in parsed.entries] == [2, 5]
    report = " ".join(str(e) for e in parsed.errors + parsed.warnings)
    for secret in ("TR33", "FR76", "LEROY", "MOREAU", "000111"):
        assert secret not in report


def test_rib_rows_of_a_non_sepa_account_are_refused(write_csv: WriteCsv) -> None:
    path = write_csv("ine;titulaire;type_titulaire;iban;bic",
                     "000111226AE;LEROY Inès;eleve;TR330006100519786457841326;BNPANCNX")
    assert [(e.column, e.code) for e in read_ribs_csv(path, uai=UAI).errors] == [
        ("iban", "iban.sepa"), ("bic", "bic.sepa")]
