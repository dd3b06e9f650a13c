"""Numbering rules of documents.md §4."""

import re

import pytest
from aplypro_documents.domain import (
    AbrogationMotive,
    BudgetPrefix,
    DocumentRuleError,
    InvalidNumberError,
    Ministry,
    UnknownMinistryError,
    UnsupportedBudgetPrefixError,
    VersionLimitReachedError,
    abrogation_motives,
    administrative_number,
    budget_prefix,
    da_number,
    next_version,
    parse_da_number,
    pfmp_number,
)
from hypothesis import given
from hypothesis import strategies as st


def test_an_administrative_number_is_ten_random_upper_case_alphanumerics() -> None:
    numbers = {administrative_number() for _ in range(200)}
    assert all(re.fullmatch(r"[A-Z0-9]{10}", number) for number in numbers)
    assert len(numbers) == 200  # 36^10 values: a repeat here would mean no randomness


@pytest.mark.parametrize(
    ("ministry", "contract", "prefix"),
    [
        (Ministry.MENJ, "99", BudgetPrefix.ENPU),
        *[(Ministry.MENJ, code, BudgetPrefix.ENPR) for code in ("10", "20", "30", "31", "40", "41", "60")],
        (Ministry.MASA, "99", BudgetPrefix.MASA),
        (Ministry.MASA, "30", BudgetPrefix.MASA),
        ("Mer", "99", BudgetPrefix.MER),
        (" menj ", " 99 ", BudgetPrefix.ENPU),
    ],
)
def test_the_budget_prefix_follows_ministry_and_contract_type(
    ministry: Ministry | str, contract: str, prefix: BudgetPrefix
) -> None:
    assert budget_prefix(ministry, contract) is prefix


@pytest.mark.parametrize(("ministry", "contract"), [(Ministry.MENJ, "50"), (Ministry.MENJ, ""),
                                                    (Ministry.ARMEES, "99"), ("Armées", "99")])  # fmt: skip
def test_armee_and_other_menj_contracts_are_refused(ministry: Ministry | str, contract: str) -> None:
    with pytest.raises(UnsupportedBudgetPrefixError) as caught:
        budget_prefix(ministry, contract)
    assert caught.value.code == "unsupported_budget_prefix"


def test_an_unknown_ministry_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnknownMinistryError):
        budget_prefix("CULTURE", "99")


def test_a_da_number_concatenates_prefix_admin_number_year_and_version() -> None:
    assert da_number("ENPU", "K7Q2M9X4TB", 2025, 1) == "ENPUK7Q2M9X4TB20251"
    assert len(da_number(BudgetPrefix.ENPR, "k7q2m9x4tb", 2025, 9)) == 19
    assert len(da_number(BudgetPrefix.MER, "K7Q2M9X4TB", 2025, 3)) == 18


def test_the_tenth_version_is_refused() -> None:
    with pytest.raises(VersionLimitReachedError) as caught:
        da_number("ENPU", "K7Q2M9X4TB", 2025, 10)
    assert caught.value.code == "version_limit_reached"


@pytest.mark.parametrize(
    ("prefix", "admin", "year", "version", "error"),
    [
        ("ENPU", "K7Q2M9X4T", 2025, 1, InvalidNumberError),
        ("ENPU", "K7Q2M9X4T!", 2025, 1, InvalidNumberError),
        ("ENPU", "K7Q2M9X4TB", 25, 1, InvalidNumberError),
        ("ENPU", "K7Q2M9X4TB", 2025, 0, InvalidNumberError),
        ("ARMEE", "K7Q2M9X4TB", 2025, 1, UnsupportedBudgetPrefixError),
        ("MENJ_OTHER", "K7Q2M9X4TB", 2025, 1, UnsupportedBudgetPrefixError),
        ("XXXX", "K7Q2M9X4TB", 2025, 1, InvalidNumberError),
    ],
)
def test_malformed_number_parts_are_refused(
    prefix: str, admin: str, year: int, version: int, error: type[DocumentRuleError]
) -> None:
    with pytest.raises(error):
        da_number(prefix, admin, year, version)


def test_the_version_counter_starts_at_zero_and_stops_at_nine() -> None:
    assert next_version(0) == 1
    assert next_version(8) == 9
    with pytest.raises(VersionLimitReachedError):
        next_version(9)
    with pytest.raises(InvalidNumberError):
        next_version(-1)


def test_a_pfmp_number_appends_a_two_digit_rank() -> None:
    assert pfmp_number("ENPUK7Q2M9X4TB20251", 2) == "ENPUK7Q2M9X4TB2025102"
    assert pfmp_number("MERK7Q2M9X4TB20251", 12) == "MERK7Q2M9X4TB2025112"
    for bad_rank in (0, 100):
        with pytest.raises(InvalidNumberError):
            pfmp_number("ENPUK7Q2M9X4TB20251", bad_rank)
    with pytest.raises(InvalidNumberError):
        pfmp_number("NOT-A-DA", 1)


def test_every_rule_error_is_a_value_error_with_a_stable_code() -> None:
    for error in (UnsupportedBudgetPrefixError, VersionLimitReachedError, InvalidNumberError,
                  UnknownMinistryError):  # fmt: skip
        assert issubclass(error, ValueError)
        assert re.fullmatch(r"[a-z_]+", error.code)


@given(
    prefix=st.sampled_from(["ENPU", "ENPR", "MASA", "MER"]),
    admin=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=10, max_size=10),
    year=st.integers(2023, 2099),
    version=st.integers(1, 9),
)
def test_a_da_number_parses_back_into_its_parts(prefix: str, admin: str, year: int, version: int) -> None:
    parsed = parse_da_number(da_number(prefix, admin, year, version))
    assert parsed == (BudgetPrefix(prefix), admin, year, version)


def test_abrogation_motives_come_from_the_newer_schooling() -> None:
    # Moved to another MEF in the same establishment.
    assert abrogation_motives(mef_code="1", uai="A", newer_mef_code="2", newer_uai="A") == (
        AbrogationMotive.TRAINING_CHANGED,
    )
    # Same MEF elsewhere, and no newer schooling at all: the student left.
    assert abrogation_motives(mef_code="1", uai="A", newer_mef_code="1", newer_uai="B") == (
        AbrogationMotive.ESTABLISHMENT_LEFT,
    )
    assert abrogation_motives(mef_code="1", uai="A", newer_mef_code=None, newer_uai=None) == (
        AbrogationMotive.ESTABLISHMENT_LEFT,
    )
    assert len(abrogation_motives(mef_code="1", uai="A", newer_mef_code="2", newer_uai="B")) == 2
