"""The pure rules behind the indicators' new facts (features.md §4): when a student's data counts as ready for
the ASP, and the ASP's euro amounts as exact cents. No database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from aplypro_contracts.students import Address, Identity
from aplypro_pfmp.adapters.indicator_facts_sql import FractionalCents, cents_of
from aplypro_pfmp.domain.student_data import asp_data_ready

READY = Identity(ine="123456789AB", last_name="PRETE", first_names=("Lina",), birth_date=date(2007, 11, 2),
                 sex="female", birth_country_insee="99100", birth_city_insee="35238",
                 address=Address(postal_code="35000", city_insee="35238", country_insee="99100"))


def test_a_student_is_ready_with_sex_birthplace_and_address_known() -> None:
    assert asp_data_ready(READY)


@pytest.mark.parametrize("change", [
    {"ine": " "},
    {"sex": "unknown"},
    {"birth_country_insee": None},
    {"birth_city_insee": None},  # born in France: the commune is needed
    {"address": Address(postal_code=None, city_insee="35238")},  # lives in France: the postcode is needed
    {"address": Address(postal_code="35000", city_insee=None)},
    {"address": Address(country_insee=None)},
])
def test_a_missing_fact_makes_the_student_not_ready(change: dict[str, object]) -> None:
    assert not asp_data_ready(READY.model_copy(update=change))


def test_born_or_living_abroad_needs_no_french_commune_nor_postcode() -> None:
    abroad = READY.model_copy(update={"birth_country_insee": "99134", "birth_city_insee": None,
                                      "address": Address(country_insee="99134")})
    assert asp_data_ready(abroad)


def test_the_asp_amounts_become_exact_cents_and_a_recovery_s_sign_is_dropped() -> None:
    assert cents_of(Decimal("95.50")) == 9550
    assert cents_of(Decimal("-150.00")) == 15000  # MTDEMANDEOR: sign unconfirmed, the absolute value
    with pytest.raises(FractionalCents) as refused:
        cents_of(Decimal("1.005"))
    assert refused.value.code == "fractional_cents"
