"""Retries of failed payment requests (lifecycles.md §2, Retries) on the real PostgreSQL: the director's
"relancer" (PaymentRetryRequested) and the automatic retry when a new RIB or an address change may cure a
rejection for a recognised reason."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from aplypro_calculator.domain.requests import (
    RECOGNISED_REJECTIONS,
    RetryFacts,
    automatic_retry_refusal,
    relaunch_refusal,
)
from aplypro_contracts import PaymentRetryRequested, PfmpState, RibRecorded, SchoolingOpened
from structlog.testing import capture_logs

from .calculator_world import OTHER_UAI, PREMIERE, UAI, Calc

SEPT, OCT = date(2025, 9, 8), date(2025, 10, 6)
DEC = date(2025, 12, 8)  # after a default PFMP (OCT, 60 days): one student's PFMPs never overlap
HOLDER, IBAN = "DUPONT MARIE", "FR7630006000011234567890189"


def relaunch(request: dict[str, Any], student_id: uuid.UUID) -> PaymentRetryRequested:
    return PaymentRetryRequested(producer="pfmp", pfmp_id=request["pfmp_id"], student_id=student_id,
                                 payment_request_id=request["payment_request_id"], requested_by="user-42",
                                 reason="asp_instructions_followed")


def new_rib(schooling: SchoolingOpened, uai: str = UAI) -> RibRecorded:
    return RibRecorded(producer="students", rib_id=uuid.uuid4(), student_id=schooling.student_id,
                       establishment_uai=uai, owner_type="personal", holder_name=HOLDER, iban=IBAN, bic="AGRIFRPP",
                       version=1)


async def failed(calc: Calc, pfmp: PfmpState, state: str, *reasons: str) -> dict[str, Any]:
    """Take the PFMP's latest (ready) request to `rejected` (at integration) or `unpaid` (at payment)."""
    request = (await calc.requests(pfmp.pfmp_id))[-1]
    assert request["state"] == "ready"
    steps = ["sent", "rejected"] if state == "rejected" else ["sent", "integrated", "unpaid"]
    await calc.feed(*[calc.asp(request, s, **({"reasons": reasons} if s == state else {})) for s in steps])
    return (await calc.requests(pfmp.pfmp_id))[-1]


# --- the rules, without a database ---------------------------------------------------------------------

REQUEST = uuid.uuid4()


def facts(state: str | None, status: str = "validated", amount: int | None = 4500, *reasons: str) -> RetryFacts:
    return RetryFacts(status, False, amount, REQUEST, state, reasons)


@pytest.mark.parametrize(("f", "asked", "why"), [
    (facts("rejected"), REQUEST, None),
    (facts("unpaid"), REQUEST, None),
    (facts("rejected", "rectified", 0), REQUEST, None),  # a rectification's total may be 0
    (facts("rejected"), uuid.uuid4(), "not_latest_request"),
    (facts("paid"), REQUEST, "latest_not_failed"),
    (facts("incomplete"), REQUEST, "latest_not_failed"),  # re-evaluated ("retenter"), never replaced
    (facts("rejected", "validated", 0), REQUEST, "nothing_to_pay"),  # D10
    (facts(None), REQUEST, "no_request"),
    (facts("rejected", "completed"), REQUEST, "pfmp_not_validated"),
])
def test_a_relaunch_needs_the_latest_request_failed_for_good_and_something_to_pay(
        f: RetryFacts, asked: uuid.UUID, why: str | None) -> None:
    assert relaunch_refusal(f, asked) == why


@pytest.mark.parametrize(("f", "why"), [
    (facts("rejected", "validated", 4500, "invalid_rib"), None),
    (facts("rejected", "validated", 4500, "payment_coordinates_blocked", "other"), None),
    (facts("rejected", "validated", 4500, "fallback_message"), "not_a_recognised_rejection"),
    (facts("rejected", "validated", 4500), "not_a_recognised_rejection"),  # no reason at all
    (facts("rejected", "validated", 4500, "outdated_insee_code"), None),  # an address reason too (issue 10)
    (facts("unpaid", "validated", 4500, "invalid_rib"), "latest_not_failed"),  # unpaid: the director relaunches
    (facts("rejected", "rectified", 4500, "invalid_rib"), "pfmp_not_validated"),
])
def test_a_change_retries_only_a_validated_pfmp_rejected_for_a_recognised_reason(
        f: RetryFacts, why: str | None) -> None:
    assert automatic_retry_refusal(f) == why


# asp-exchange.md §6.1: every key but `fallback_message` (14 of 15); the old code knew only 8 bank ones.
ASP_REJECT_KEYS = [
    "payment_coordinates_blocked", "birth_commune_not_found", "outdated_insee_code",
    "localisationgeographique_not_found", "refinseepays_not_found", "refdombancaire_not_found",
    "inconsistent_address", "bic_sepa_not_allowed", "iban_sepa_not_allowed", "invalid_rib", "invalid_characters",
    "invalid_payment_coordinates", "hamlet", "bic_length",
]


@pytest.mark.parametrize("key", ASP_REJECT_KEYS)
def test_every_recognised_rejection_is_retried_automatically(key: str) -> None:
    assert automatic_retry_refusal(facts("rejected", "validated", 4500, key)) is None
    assert RECOGNISED_REJECTIONS == frozenset(ASP_REJECT_KEYS)


# --- on PostgreSQL ---------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("state", ["rejected", "unpaid"])
async def test_a_relaunch_creates_a_new_request_evaluated_at_once(nightly: Calc, state: str) -> None:
    # With the production cool-down too: a retry is never left to the next midnight.
    schooling = await nightly.schooling(mef=PREMIERE)
    pfmp = await nightly.validate(nightly.pfmp(schooling, 3))
    await nightly.evaluate_due(nightly.clock().replace(year=2100))
    old = await failed(nightly, pfmp, state, "fallback_message")
    mark = await nightly.mark()

    await nightly.feed(relaunch(old, schooling.student_id))

    first, new = await nightly.requests(pfmp.pfmp_id)
    assert first["state"] == state  # a terminal request is never reopened
    assert (new["state"], new["amount_cents"], new["kind"], new["due_at"]) == ("ready", 4500, "payment", None)
    [requested] = await nightly.events(mark, "PaymentRequested")
    assert (requested.payment_request_id, requested.amount_cents, requested.rectification) == (
        new["payment_request_id"], 4500, False)


@pytest.mark.integration
async def test_a_relaunch_that_does_not_fit_is_ignored_and_logged_without_personal_data(calc: Calc) -> None:
    schooling = await calc.schooling(mef=PREMIERE)
    pfmp = await calc.validate(calc.pfmp(schooling, 3))
    paid = await calc.pay(pfmp)
    mark = await calc.mark()

    with capture_logs() as logs:
        await calc.feed(relaunch(paid, schooling.student_id))  # its latest request is paid
        await calc.feed(relaunch({"pfmp_id": uuid.uuid4(), "payment_request_id": uuid.uuid4()},
                                 schooling.student_id))  # a PFMP the calculator does not know
    assert [(e["event"], e["why"], e["latest_state"]) for e in logs if e["event"] == "payment_retry_ignored"] == [
        ("payment_retry_ignored", "latest_not_failed", "paid"), ("payment_retry_ignored", "unknown_pfmp", None)]
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["paid"]
    assert await calc.events(mark) == []

    # The same relaunch twice: the second finds the new request, no longer the one it retries.
    other = await calc.validate(calc.pfmp(schooling, 2, start=DEC))
    rejected = await failed(calc, other, "rejected", "fallback_message")
    with capture_logs() as logs:
        await calc.feed(relaunch(rejected, schooling.student_id), relaunch(rejected, schooling.student_id))
    assert [r["state"] for r in await calc.requests(other.pfmp_id)] == ["rejected", "ready"]
    assert [e["why"] for e in logs if e["event"] == "payment_retry_ignored"] == ["not_latest_request"]


@pytest.mark.integration
async def test_a_relaunch_with_nothing_to_pay_creates_no_request(calc: Calc) -> None:
    # Cap 600 €: A (October) 30 days, 450 € committed; B (September, not validated) gets the 150 € left.
    schooling = await calc.schooling(mef=PREMIERE)
    a = await calc.validate(calc.pfmp(schooling, 30, start=OCT))
    await calc.record(calc.pfmp(schooling, 40, start=SEPT))
    rejected = await failed(calc, a, "rejected", "fallback_message")
    assert await calc.amount(a.pfmp_id) == 0  # no longer committed: B, earlier, now takes the whole cap

    with capture_logs() as logs:
        await calc.feed(relaunch(rejected, schooling.student_id))
    assert [e["why"] for e in logs if e["event"] == "payment_retry_ignored"] == ["nothing_to_pay"]
    assert [r["state"] for r in await calc.requests(a.pfmp_id)] == ["rejected"]


@pytest.mark.integration
async def test_relaunching_a_rejected_rectification_sends_the_corrected_total_again(calc: Calc) -> None:
    schooling = await calc.schooling(mef=PREMIERE)
    pfmp = await calc.validate(calc.pfmp(schooling, 3))
    await calc.pay(pfmp)  # 45 €
    await calc.feed(calc.rectified(pfmp, 5))  # complement: new total 75 €
    rejected = await failed(calc, pfmp, "rejected", "fallback_message")
    mark = await calc.mark()

    await calc.feed(relaunch(rejected, schooling.student_id))
    new = (await calc.requests(pfmp.pfmp_id))[-1]
    assert (new["state"], new["kind"], new["amount_cents"], new["base_cents"]) == ("ready", "rectification", 7500, 4500)
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.amount_cents, requested.rectification) == (7500, True)


@pytest.mark.integration
async def test_a_new_rib_at_the_establishment_retries_a_bank_details_rejection(calc: Calc) -> None:
    schooling = await calc.schooling(mef=PREMIERE)
    bank = await calc.validate(calc.pfmp(schooling, 3))
    other = await calc.validate(calc.pfmp(schooling, 2, start=DEC))
    unpaid = await calc.validate(calc.pfmp(schooling, 4, start=SEPT, length=20))
    await failed(calc, bank, "rejected", "invalid_rib")
    await failed(calc, other, "rejected", "fallback_message")  # needs a person: the director relaunches
    await failed(calc, unpaid, "unpaid", "invalid_rib")  # no automatic retry after unpaid

    await calc.feed(new_rib(schooling, OTHER_UAI))  # bank details for another establishment cure nothing
    assert [r["state"] for r in await calc.requests(bank.pfmp_id)] == ["rejected"]

    mark = await calc.mark()
    with capture_logs() as logs:
        await calc.feed(new_rib(schooling))
    assert [r["state"] for r in await calc.requests(bank.pfmp_id)] == ["rejected", "ready"]
    assert [r["state"] for r in await calc.requests(other.pfmp_id)] == ["rejected"]
    assert [r["state"] for r in await calc.requests(unpaid.pfmp_id)] == ["unpaid"]
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.pfmp_id, requested.amount_cents) == (bank.pfmp_id, 4500)
    # The bank details are read from nowhere but the event: never logged, never stored.
    assert HOLDER not in repr(logs)
    assert IBAN not in repr(logs)
    assert [e["event"] for e in logs if e["event"].startswith("payment_retr")] == ["payment_retried"]

    await calc.feed(new_rib(schooling))  # the retried request is not rejected: nothing more
    assert [r["state"] for r in await calc.requests(bank.pfmp_id)] == ["rejected", "ready"]


@pytest.mark.integration
async def test_retenter_evaluates_a_blocked_request_again_and_keeps_it(calc: Calc) -> None:
    # Blocked for its missing DA; the DA then lands in the calculator's tables without re-evaluating the pool
    # (as an operator's repair would): only the director's "retenter" evaluates the request again.
    from aplypro_calculator.adapters import postgres_decisions
    from aplypro_calculator.domain.decisions import Decision

    schooling = await calc.schooling(mef=PREMIERE, with_decision=False)
    pfmp = await calc.validate(calc.pfmp(schooling, 3))
    [blocked] = await calc.requests(pfmp.pfmp_id)
    assert (blocked["state"], blocked["reasons"]) == ("incomplete", ["missing_attributive_decision"])
    async with calc.db.acquire() as conn:
        await postgres_decisions.store_decisions(conn, [(schooling.schooling_id, schooling.student_id,
                                                         Decision(attribution=1))])
    # Still blocked for anyone but the director: nothing re-evaluated it
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["incomplete"]
    mark = await calc.mark()

    await calc.feed(relaunch(blocked, schooling.student_id))

    [request] = await calc.requests(pfmp.pfmp_id)  # the same request, not a new one
    assert (request["payment_request_id"], request["state"], request["amount_cents"]) == (
        blocked["payment_request_id"], "ready", 4500)
    [requested] = await calc.events(mark, "PaymentRequested")
    assert requested.payment_request_id == blocked["payment_request_id"]

    # A retenter of a request that is no longer blocked (or not the latest) changes nothing
    mark = await calc.mark()
    await calc.feed(relaunch(blocked, schooling.student_id))
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["ready"]
    assert await calc.events(mark) == []
