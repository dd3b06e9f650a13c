"""Builders shared by the asp-gateway tests: the §4.7 sample student (Léa) as a pending request."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from aplypro_asp_gateway.domain.model import Parametrage, PendingRequest, Rib, Schooling, Student

LEA_IBAN = "FR7630006000011234567890189"
SCHOOLING_ID = uuid.UUID("a1b2c3d4-e5f6-4000-8000-000000000001")


def lea_request(**changes: Any) -> PendingRequest:
    """The first sample record of asp-exchange.md §4.7: 20 days at 15 €, cap 600 €, public school."""
    request = PendingRequest(
        payment_request_id=uuid.uuid4(), record_id=4242, pfmp_id=uuid.uuid4(), schooling_id=SCHOOLING_ID,
        student_id=uuid.uuid4(), amount_cents=30000, pfmp_rank=1,
        student=Student(last_name="Dupré", first_names=("Léa", "Marie", "Anne"), birth_date=date(2008, 3, 14),
                        sex="female", birth_city_insee="34172", birth_country_insee="99100", postal_code="34000",
                        city_insee="34172", country_insee="99100"),
        schooling=Schooling(uai="0340001A", contract_type_code="99", mef_ministry="MENJ", school_year=2025,
                            status="student", yearly_cap_cents=60000),
        rib=Rib(rib_id=uuid.uuid4(), owner_type="personal", holder_name="Mme Léa Dupré", iban=LEA_IBAN,
                bic="AGRIFRPPXXX"),
    )
    return replace(request, **changes)


PARAMS = Parametrage(
    site_operator="SITEOPE", user_code="USERCODE", dispo="APLYPRO", presta_dispo="APLYPRO", dispositif="APLYPRO",
    unites_suivi={"menj_public": "USMENJPUB", "menj_private": "USMENJPRIV", "masa": "USMASA", "mer": "USMER",
                  "menj_other": None, "armee": None},
)


@pytest.fixture
def make_request() -> Callable[..., PendingRequest]:
    return lea_request


@pytest.fixture
def params() -> Parametrage:
    return PARAMS
