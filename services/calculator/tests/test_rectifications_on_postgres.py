"""Rectifications of paid PFMPs (calculation.md §5) on the real PostgreSQL; worked examples 30–36, 43."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aplypro_calculator.domain.rectification import InvalidDayCount
from aplypro_calculator.service_layer.rectifications import RectificationNotAllowed
from aplypro_contracts import PfmpState

from .calculator_world import PREMIERE, Calc

pytestmark = pytest.mark.integration

SEPT, OCT = date(2025, 9, 8), date(2025, 10, 6)


async def paid_pfmp(calc: Calc, days: int, **values: Any) -> PfmpState:
    """A première PFMP (15 €/day, cap 600 €) validated, sent, integrated and paid."""
    schooling = await calc.schooling(mef=PREMIERE)
    pfmp = await calc.validate(calc.pfmp(schooling, days, **values))
    await calc.pay(pfmp)
    return pfmp


async def test_example_33_a_complement_creates_a_request_with_the_new_total(calc: Calc) -> None:
    pfmp = await paid_pfmp(calc, 3)  # 45 € paid
    mark = await calc.mark()
    await calc.feed(calc.rectified(pfmp, 5))

    [rectification] = await calc.events(mark, "RectificationComputed")
    paid, new = await calc.requests(pfmp.pfmp_id)
    assert (rectification.outcome, rectification.base_cents, rectification.new_cents,
            rectification.difference_cents, rectification.payment_request_id) == (
        "complement", 4500, 7500, 3000, new["payment_request_id"])
    # The paid request keeps its amount; the new one carries the total (never the delta), ready at once.
    assert (paid["state"], paid["amount_cents"]) == ("paid", 4500)
    assert (new["kind"], new["state"], new["amount_cents"], new["base_cents"]) == (
        "rectification", "ready", 7500, 4500)
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.payment_request_id, requested.amount_cents, requested.rectification) == (
        new["payment_request_id"], 7500, True)
    assert await calc.db.fetchval("SELECT status FROM pfmps WHERE pfmp_id = $1", pfmp.pfmp_id) == "rectified"


@pytest.mark.parametrize(("days", "code"), [
    (9, "nothing_to_correct"),  # example 31: unchanged
    (8, "below_recovery_threshold"),  # example 30: −15 €
    (7, "below_recovery_threshold"),  # example 34: exactly −30 € is refused
    (2, "negative_rectification_disabled"),  # example 32 by a user, switch off: −105 €
    (0, "negative_rectification_disabled"),  # example 43 by a user
])
async def test_a_refused_rectification_changes_nothing(calc: Calc, days: int, code: str) -> None:
    pfmp = await paid_pfmp(calc, 9)  # 135 € paid
    mark = await calc.mark()
    await calc.feed(calc.rectified(pfmp, days))

    [rectification] = await calc.events(mark, "RectificationComputed")
    assert (rectification.outcome, rectification.refusal_code, rectification.payment_request_id) == (
        "refused", code, None)
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["paid"]
    # The PFMP keeps its facts and its paid amount: nothing changes silently.
    assert await calc.db.fetchval("SELECT day_count FROM pfmps WHERE pfmp_id = $1", pfmp.pfmp_id) == 9
    assert await calc.amount(pfmp.pfmp_id) == 135
    assert await calc.events(mark, "AmountComputed") == []


async def test_example_43_a_system_recovery_is_recorded_and_parked_until_the_switch_is_on(calc: Calc) -> None:
    pfmp = await paid_pfmp(calc, 3)  # 45 € paid
    mark = await calc.mark()
    await calc.feed(calc.rectified(pfmp, 0, by="system"))  # a DA withdrawal: full cancellation

    [rectification] = await calc.events(mark, "RectificationComputed")
    assert (rectification.outcome, rectification.difference_cents, rectification.parked) == ("recovery", -4500, True)
    parked = (await calc.requests(pfmp.pfmp_id))[-1]
    assert (parked["state"], parked["reasons"], parked["amount_cents"]) == ("pending", ["negative_rectification"], 0)
    [blocked] = await calc.events(mark, "PaymentRequestBlocked")
    assert (blocked.reasons, blocked.parked) == (("negative_rectification",), True)
    assert await calc.events(mark, "PaymentRequested") == []

    # Still off: re-evaluating releases nothing and publishes nothing new.
    from aplypro_calculator.service_layer.operations import release_parked

    async with calc.db.acquire() as conn, conn.transaction():
        released = await release_parked(conn, calc.handlers)
    assert (released.pools, released.still_parked, released.events) == (1, 1, 0)

    # Switched on: the parked request becomes ready with the new total, 0 €.
    mark = await calc.mark()
    async with calc.db.acquire() as conn, conn.transaction():
        released = await release_parked(conn, calc.with_switch(True))
    assert released.still_parked == 0
    assert (await calc.requests(pfmp.pfmp_id))[-1]["state"] == "ready"
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.payment_request_id, requested.amount_cents) == (parked["payment_request_id"], 0)


async def test_with_the_switch_on_a_user_recovery_goes_to_asp_with_the_new_total(calc: Calc) -> None:
    pfmp = await paid_pfmp(calc, 9)  # 135 € paid
    mark = await calc.mark()
    await calc.feed(calc.rectified(pfmp, 2), handlers=calc.with_switch(True))  # example 32: 30 €
    [rectification] = await calc.events(mark, "RectificationComputed")
    assert (rectification.outcome, rectification.difference_cents, rectification.parked) == ("recovery", -10500, False)
    new = (await calc.requests(pfmp.pfmp_id))[-1]
    assert (new["state"], new["amount_cents"]) == ("ready", 3000)

    # ASP issues the recovery order: the request is paid, flagged as a recovery, and is the new base.
    await calc.feed(calc.asp(new, "sent"), calc.asp(new, "integrated"),
                    calc.asp(new, "paid", recovery=True, paid_amount=105))
    paid = (await calc.requests(pfmp.pfmp_id))[-1]
    assert (paid["state"], paid["recovery"], paid["paid_mismatch"]) == ("paid", True, False)
    mark = await calc.mark()
    await calc.feed(calc.rectified(pfmp, 4))
    [again] = await calc.events(mark, "RectificationComputed")
    assert (again.base_cents, again.new_cents, again.outcome) == (3000, 6000, "complement")


async def test_example_36_a_rectified_pfmp_is_priced_before_never_paid_ones(calc: Calc) -> None:
    # Cap 600 €: A (October) 30 days paid 450 €; B (September, entered later, not validated) gets 150 €.
    schooling = await calc.schooling(mef=PREMIERE)
    a = await calc.validate(calc.pfmp(schooling, 30, start=OCT))
    await calc.pay(a)
    b = await calc.record(calc.pfmp(schooling, 20, start=SEPT))
    assert await calc.amount(b.pfmp_id) == 150

    # A rectified to 40 days: class 2 comes before B, so A gets its complement (600) and B nothing.
    await calc.feed(calc.rectified(a, 40))
    assert (await calc.amount(a.pfmp_id), await calc.amount(b.pfmp_id)) == (600, 0)
    assert (await calc.requests(a.pfmp_id))[-1]["amount_cents"] == 60000


async def test_a_day_count_above_the_calendar_days_or_a_pfmp_not_paid_breaks_a_rule(calc: Calc) -> None:
    pfmp = await paid_pfmp(calc, 3, length=10)
    with pytest.raises(InvalidDayCount) as bad_count:
        await calc.feed_one(calc.rectified(pfmp, 11))  # 11 days in 10 calendar days (D11)
    assert bad_count.value.code == "day_count_above_calendar_days"

    schooling = await calc.schooling(mef=PREMIERE)
    never_paid = await calc.validate(calc.pfmp(schooling, 3))
    with pytest.raises(RectificationNotAllowed) as not_paid:
        await calc.feed_one(calc.rectified(never_paid, 5))
    assert not_paid.value.code == "not_paid"

    # A complement already handed to ASP (ready) cannot be corrected until it is paid.
    await calc.feed(calc.rectified(pfmp, 5))
    with pytest.raises(RectificationNotAllowed) as ongoing:
        await calc.feed_one(calc.rectified(pfmp, 6))
    assert ongoing.value.code == "request_ongoing"


async def test_a_rectification_arriving_in_the_batch_of_its_paid_return_still_finds_it(calc: Calc) -> None:
    schooling = await calc.schooling(mef=PREMIERE)
    pfmp = await calc.validate(calc.pfmp(schooling, 3))
    [request] = await calc.requests(pfmp.pfmp_id)
    await calc.feed(calc.asp(request, "sent"), calc.asp(request, "integrated"))
    # Two topics in one batch: the rectification first, the payment return after it.
    await calc.feed(calc.rectified(pfmp, 5), calc.asp(request, "paid", paid_amount=45))
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["paid", "ready"]
