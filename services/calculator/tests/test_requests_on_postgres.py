"""The payment-request life cycle as the calculator sees it (lifecycles.md §2), on the real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import asyncpg
import pytest

from .calculator_world import TERMINALE, UNPRICED, Calc

pytestmark = pytest.mark.integration

SEPT, OCT = date(2025, 9, 8), date(2025, 10, 6)


async def test_a_validated_pfmp_gets_one_ready_request_with_its_amount_frozen(calc: Calc) -> None:
    schooling = await calc.schooling()
    mark = await calc.mark()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    # A redelivered validation (same facts, new event id) changes nothing.
    await calc.validate(pfmp)

    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["amount_cents"], request["kind"], request["reasons"]) == (
        "ready", 20000, "payment", [])
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.payment_request_id, requested.amount_cents) == (request["payment_request_id"], 20000)
    assert requested.rectification is False  # a first payment
    assert await calc.events(mark, "PaymentRequestBlocked") == []


async def test_a_validated_pfmp_at_zero_gets_its_request_when_cap_is_freed(calc: Calc) -> None:
    # D10. Cap 1,000 €: A (September, 50 days, not validated) takes it all; B (October) is validated at 0.
    schooling = await calc.schooling()
    a = await calc.record(calc.pfmp(schooling, 50, start=SEPT))
    b = await calc.validate(calc.pfmp(schooling, 10, start=OCT))
    assert (await calc.amount(a.pfmp_id), await calc.amount(b.pfmp_id)) == (1000, 0)
    assert await calc.requests(b.pfmp_id) == []

    # A is edited to 45 days: 100 € flow to B, which gets its request now, ready with 100 €.
    mark = await calc.mark()
    await calc.record(a, day_count=45)
    [request] = await calc.requests(b.pfmp_id)
    assert (request["state"], request["amount_cents"]) == ("ready", 10000)
    assert [e.pfmp_id for e in await calc.events(mark, "PaymentRequested")] == [b.pfmp_id]


async def test_a_pending_request_whose_amount_drops_to_zero_is_blocked_then_released(calc: Calc) -> None:
    schooling = await calc.schooling()
    a = await calc.record(calc.pfmp(schooling, 50, start=SEPT))
    b = await calc.validate(calc.pfmp(schooling, 10, start=OCT))
    # A request created but not yet evaluated (pending), e.g. carried over from the existing system.
    request_id = uuid.uuid4()
    await calc.db.execute("INSERT INTO payment_requests (payment_request_id, pfmp_id, state, amount_cents) "
                          "VALUES ($1, $2, 'pending', 20000)", request_id, b.pfmp_id)

    mark = await calc.mark()
    await calc.record(a, day_count=50, end_date=a.end_date)  # any change to the pool re-evaluates it
    [request] = await calc.requests(b.pfmp_id)
    assert (request["state"], request["reasons"], request["amount_cents"]) == ("incomplete", ["pfmp_amount"], 0)
    [blocked] = await calc.events(mark, "PaymentRequestBlocked")
    assert (blocked.payment_request_id, blocked.reasons, blocked.parked) == (request_id, ("pfmp_amount",), False)

    # Re-evaluated without change: no new event.
    mark = await calc.mark()
    await calc.record(a, day_count=50)
    assert await calc.events(mark, "PaymentRequestBlocked") == []

    # Cap freed: the same request becomes ready with the new amount frozen.
    await calc.record(a, day_count=40)
    [request] = await calc.requests(b.pfmp_id)
    assert (request["state"], request["reasons"], request["amount_cents"]) == ("ready", [], 20000)
    [requested] = await calc.events(mark, "PaymentRequested")
    assert requested.payment_request_id == request_id


async def test_a_pfmp_of_a_mef_without_bareme_gets_no_request_until_the_mef_is_priced(calc: Calc) -> None:
    schooling = await calc.schooling(mef=UNPRICED)
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    assert (await calc.amount(pfmp.pfmp_id), await calc.requests(pfmp.pfmp_id)) == (None, [])
    # The schooling is corrected to a priced MEF: the pool is computed and the request created.
    await calc.feed(schooling.model_copy(update={"event_id": uuid.uuid4(), "mef": TERMINALE, "version": 2}))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["amount_cents"]) == ("ready", 20000)


async def test_asp_returns_move_the_request_and_a_replay_changes_nothing(calc: Calc) -> None:
    schooling = await calc.schooling()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    [request] = await calc.requests(pfmp.pfmp_id)
    # `paid` before `integrated` is a return from the wrong state: ignored.
    await calc.feed(calc.asp(request, "paid", paid_amount=Decimal("200.00")))
    assert (await calc.requests(pfmp.pfmp_id))[0]["state"] == "ready"

    paid = await calc.pay(pfmp, Decimal("200.00"))
    assert (paid["state"], paid["paid_amount"], paid["paid_mismatch"], paid["amount_cents"]) == (
        "paid", Decimal("200.00"), False, 20000)
    # The same file processed twice, or a late `unpaid`: nothing moves.
    await calc.feed(calc.asp(request, "paid", paid_amount=Decimal("200.00")), calc.asp(request, "rejected"))
    assert (await calc.requests(pfmp.pfmp_id))[0]["state"] == "paid"
    assert await calc.amount(pfmp.pfmp_id) == 200


async def test_a_paid_amount_that_differs_from_what_was_sent_is_flagged_not_truncated(calc: Calc) -> None:
    schooling = await calc.schooling()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    paid = await calc.pay(pfmp, Decimal("199.99"))
    assert (paid["state"], paid["paid_amount"], paid["paid_mismatch"], paid["amount_cents"]) == (
        "paid", Decimal("199.99"), True, 20000)


async def test_a_rejected_or_unpaid_request_leaves_the_committed_class_and_the_pool_is_recomputed(
    calc: Calc,
) -> None:
    # Cap 1,000 €: A (October, validated, 40 days) is committed at 800; B (September, later entry) gets 200.
    schooling = await calc.schooling()
    a = await calc.validate(calc.pfmp(schooling, 40, start=OCT))
    b = await calc.record(calc.pfmp(schooling, 30, start=SEPT))
    assert (await calc.amount(a.pfmp_id), await calc.amount(b.pfmp_id)) == (800, 200)

    # ASP rejects A: it is free again, and chronological order now puts B (September) first.
    [request] = await calc.requests(a.pfmp_id)
    await calc.feed(calc.asp(request, "sent"), calc.asp(request, "rejected", reasons=("RIB bloqué, motif 12",)))
    assert (await calc.amount(a.pfmp_id), await calc.amount(b.pfmp_id)) == (400, 600)
    [rejected] = await calc.requests(a.pfmp_id)
    assert (rejected["state"], rejected["asp_reasons"]) == ("rejected", ["RIB bloqué, motif 12"])
    # No automatic retry: a new request for A waits for a "relancer".
    assert len(await calc.requests(a.pfmp_id)) == 1


async def test_at_most_one_active_request_per_pfmp_is_enforced_by_the_database(calc: Calc) -> None:
    schooling = await calc.schooling()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    with pytest.raises(asyncpg.UniqueViolationError):
        await calc.db.execute("INSERT INTO payment_requests (payment_request_id, pfmp_id, state, amount_cents) "
                              "VALUES ($1, $2, 'pending', 100)", uuid.uuid4(), pfmp.pfmp_id)
    # A terminal request does not count: history can hold many.
    await calc.db.execute("INSERT INTO payment_requests (payment_request_id, pfmp_id, state, amount_cents) "
                          "VALUES ($1, $2, 'rejected', 100)", uuid.uuid4(), pfmp.pfmp_id)
    assert len(await calc.requests(pfmp.pfmp_id)) == 2
