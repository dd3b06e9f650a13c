"""Country codes, budget programme, department, PFMP numbers and whole euros (asp-exchange.md §4.3–§4.6)."""

from __future__ import annotations

from datetime import date

import pytest
from aplypro_asp_gateway.domain.codes import (
    CodeError,
    birth_commune,
    budget_programme,
    da_prefix,
    department,
    insee_country,
    pfmp_number,
    whole_euros,
)


def test_three_character_country_codes_get_the_99_prefix() -> None:
    assert insee_country("100") == "99100"
    assert insee_country("351") == "99351"
    assert insee_country("99350") == "99350"


# 99990 and 99995 are how the students service stores 990 and 995 (imports.md §4: 3 digits get the 99 prefix,
# the non-countries "kept but flagged unusable for payment"): they block the request like their short forms.
@pytest.mark.parametrize(("code", "reason"), [("990", "unusable_country_code"), ("995", "unusable_country_code"),
                                              ("99990", "unusable_country_code"), ("99995", "unusable_country_code"),
                                              ("9910", "malformed_country_code")])
def test_unusable_and_malformed_country_codes_fail_with_a_reason(code: str, reason: str) -> None:
    with pytest.raises(CodeError) as caught:
        insee_country(code)
    assert caught.value.code == reason


def test_saint_martin_birth_commune_follows_the_2008_split() -> None:
    assert birth_commune("97801", date(2007, 12, 31)) == "97127"
    assert birth_commune("97127", date(2008, 1, 1)) == "97801"
    assert birth_commune("97127", date(2007, 6, 1)) == "97127"


@pytest.mark.parametrize(
    ("ministry", "contract", "bop", "prefix"),
    [("MENJ", "99", "menj_public", "ENPU"), ("MENJ", "31", "menj_private", "ENPR"),
     ("MENJ", "50", "menj_other", "MENJ_OTHER"), ("MASA", "99", "masa", "MASA"), ("MER", "99", "mer", "MER"),
     ("ARMEE", "99", "armee", "ARMEE")],
)
def test_budget_programme_and_da_prefix(ministry: str, contract: str, bop: str, prefix: str) -> None:
    assert budget_programme(ministry, contract) == bop
    assert da_prefix(bop) == prefix


def test_an_unknown_ministry_has_no_budget_programme() -> None:
    with pytest.raises(CodeError, match="ministry"):
        budget_programme("SANTE", "99")


def test_department_comes_from_the_uai_with_corsica_mapped() -> None:
    assert department("0340001A") == "034"
    assert department("9740001B") == "974"
    assert department("7200001C") == "02B"


def test_amounts_go_out_in_whole_euros() -> None:
    assert whole_euros(30000) == 300
    assert whole_euros(0) == 0
    with pytest.raises(CodeError):
        whole_euros(30050)


def test_the_pfmp_number_is_the_da_number_and_the_rank_on_two_digits() -> None:
    # documents.md §4: DA number (as the documents service printed it) + the PFMP's rank, 21 characters.
    assert pfmp_number("ENPUK7Q2M9X4TB20251", 2) == "ENPUK7Q2M9X4TB2025102"
