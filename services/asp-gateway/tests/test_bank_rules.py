"""IBAN and BIC checks, ASP's BIC transformation and the IBAN split (asp-exchange.md §7.1, §7.2)."""

from __future__ import annotations

import pytest
from aplypro_asp_gateway.domain.bank import asp_bic, bic_is_valid, iban_is_valid, split_iban


@pytest.mark.parametrize(
    ("bic", "iban", "sent"),
    [
        ("CMBRFR2BARK", "DE89370400440532013000", "CMBRFR2B"),  # rule 1 wins over the country
        ("BNPAFRPPMAR", "FR7630006000011234567890189", "BNPAFRPP"),
        ("CMCIFR2AXXX", "FR7630006000011234567890189", "CMCIFR2A"),  # rule 2: French IBAN drops XXX
        ("AGRIFRPPXXX", "RE7630006000011234567890189", "AGRIFRPP"),  # overseas counts as French
        ("DEUTDEFF", "DE89370400440532013000", "DEUTDEFFXXX"),  # rule 3: other countries pad to 11
        ("PSSTFRPPMAR", "FR1420041010050500013M02606", "PSSTFRPPMAR"),  # rule 4: unchanged
        ("DEUTDEFF500", "DE89370400440532013000", "DEUTDEFF500"),
    ],
)
def test_bic_is_transformed_as_the_asp_requires(bic: str, iban: str, sent: str) -> None:
    assert asp_bic(bic, iban) == sent


def test_iban_is_split_into_country_check_digits_and_bban() -> None:
    parts = split_iban("FR76 3000 6000 0112 3456 7890 189")
    assert (parts.country, parts.check_digits, parts.bban) == ("FR", "76", "30006000011234567890189")
    assert parts.country + parts.check_digits + parts.bban == "FR7630006000011234567890189"


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("FR7630006000011234567890189", True),
        ("FR1420041010050500013M02606", True),
        ("fr76 3000 6000 0112 3456 7890 189", True),  # normalised first
        ("FR7630006000011234567890188", False),  # mod 97
        ("FR7630006000011234567890100", False),
        ("BR1800360305000010009795493C1", False),  # valid, but outside SEPA
    ],
)
def test_iban_validity(iban: str, valid: bool) -> None:
    assert iban_is_valid(iban) is valid


@pytest.mark.parametrize(
    ("bic", "valid"),
    [
        ("AGRIFRPP", True),
        ("AGRIFRPPXXX", True),
        ("AGRIFR0P", False),  # location code starting with 0
        ("AGRIFRPO", False),  # location code whose second character is O
        ("AGRIFRPPX12", False),  # a branch starting with X must be XXX
        ("AGRI12PP", False),
        ("AGRIFRP", False),
    ],
)
def test_bic_validity(bic: str, valid: bool) -> None:
    assert bic_is_valid(bic) is valid
