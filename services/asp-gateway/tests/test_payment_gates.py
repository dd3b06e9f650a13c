"""The gateway's payment gates of issue 10: an adult paid only on their own or a mandated account
(lifecycles.md §4 #18), a budget programme switched off parks its requests, and the Armées spelling."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.model import Blocked, Parametrage, PaymentRecord, PendingRequest, Schooling
from aplypro_asp_gateway.domain.owner import adulthood, wrong_owner_for_adult
from aplypro_asp_gateway.domain.readiness import prepare
from pydantic import ValidationError

from .conftest import PARAMS, lea_request


def _schooling() -> Schooling:
    schooling = lea_request().schooling
    assert schooling is not None
    return schooling


SCHOOLING = _schooling()

BIRTH = date(2008, 3, 14)  # Léa: 18 on 14 March 2026
ADULT_DAY, MINOR_DAY = date(2026, 3, 14), date(2026, 3, 13)


def with_owner(owner_type: str, **changes: object) -> PendingRequest:
    request = lea_request(**changes)
    assert request.rib is not None
    return replace(request, rib=replace(request.rib, owner_type=owner_type))


def reasons(outcome: PaymentRecord | Blocked) -> tuple[str, ...]:
    return outcome.reasons if isinstance(outcome, Blocked) else ()


@pytest.mark.parametrize(("owner_type", "on", "blocked"), [
    ("other_person", ADULT_DAY, True),  # 18 on the very day: an adult
    ("moral_person", ADULT_DAY, True),
    ("personal", ADULT_DAY, False),
    ("mandate", ADULT_DAY, False),
    ("other_person", MINOR_DAY, False),  # minors may use any owner type
    ("moral_person", MINOR_DAY, False),
])
def test_an_adult_on_the_pfmp_start_is_paid_only_on_an_own_or_mandated_account(
        owner_type: str, on: date, blocked: bool) -> None:
    outcome = prepare(with_owner(owner_type, pfmp_start_date=on, requested_on=date(2026, 12, 4)), PARAMS)
    assert ("adult_wrong_owner_type" in reasons(outcome)) is blocked
    assert isinstance(outcome, PaymentRecord) is not blocked  # the only reason: nothing else is wrong


def test_adulthood_is_checked_on_the_pfmp_start_not_on_the_day_of_the_request() -> None:
    # A PFMP that started while she was 17, requested once she is 18: her parent's account is fine.
    outcome = prepare(with_owner("other_person", pfmp_start_date=MINOR_DAY, requested_on=ADULT_DAY), PARAMS)
    assert isinstance(outcome, PaymentRecord)


def test_a_request_from_an_older_message_checks_adulthood_on_the_day_it_was_requested() -> None:
    # No start date (message older than the field): the request day, never earlier than the start, decides.
    old = with_owner("other_person", pfmp_start_date=None, requested_on=ADULT_DAY)
    assert reasons(prepare(old, PARAMS)) == ("adult_wrong_owner_type",)
    assert isinstance(prepare(replace(old, requested_on=MINOR_DAY), PARAMS), PaymentRecord)
    # No date at all: taken as an adult, never paid on another person's account by default.
    assert reasons(prepare(replace(old, requested_on=None), PARAMS)) == ("adult_wrong_owner_type",)


def test_born_on_29_february_is_an_adult_from_28_february() -> None:
    assert adulthood(date(2008, 2, 29)) == date(2026, 2, 28)
    assert wrong_owner_for_adult(date(2008, 2, 29), "other_person", date(2026, 2, 28))
    assert not wrong_owner_for_adult(date(2008, 2, 29), "other_person", date(2026, 2, 27))


def test_a_switched_off_budget_programme_parks_its_requests_only() -> None:
    off = replace(PARAMS, funding_off=frozenset({"menj_public"}))
    assert reasons(prepare(lea_request(), off)) == ("funding_unavailable",)
    private = lea_request(schooling=replace(SCHOOLING, contract_type_code="31"))  # menj_private
    assert isinstance(prepare(private, off), PaymentRecord)
    assert isinstance(prepare(lea_request(), PARAMS), PaymentRecord)


def test_the_funding_setting_lists_programmes_and_refuses_a_misspelt_one() -> None:
    settings = AspSettings(funding_off=" MASA, mer ,")
    assert settings.funding_off_programmes() == frozenset({"masa", "mer"})
    assert AspSettings().funding_off_programmes() == frozenset()
    with pytest.raises(ValidationError, match="unknown budget programme"):
        AspSettings(funding_off="masa,armees")


@pytest.mark.parametrize("ministry", ["ARMEES", "Armées", "ARMEE", "armée"])
def test_an_armees_schooling_gets_its_budget_programme(ministry: str, params: Parametrage) -> None:
    # The calculator and the BCN write ARMEES; the gateway's programme is `armee`. With a unité de suivi
    # set, the record gets it; the only reason left is the DA number's length (ARMEE numbers are 20 long).
    schooling = replace(SCHOOLING, mef_ministry=ministry)
    funded = replace(params, unites_suivi={**params.unites_suivi, "armee": "USARMEE"})
    assert reasons(prepare(lea_request(schooling=schooling), funded)) == ("da_number_length",)
    assert "unknown_budget_programme" not in reasons(prepare(lea_request(schooling=schooling), params))
    off = replace(funded, funding_off=frozenset({"armee"}))
    assert "funding_unavailable" in reasons(prepare(lea_request(schooling=schooling), off))
