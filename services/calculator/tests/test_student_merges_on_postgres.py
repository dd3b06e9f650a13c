"""Two students merged by the students service (StudentsMerged, imports.md §5.8) share one yearly cap, on the
real PostgreSQL: the pair is priced under one cap, never twice the cap, whatever id their later events carry."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aplypro_calculator.entrypoints.gauges import CALCULATOR_GAUGES
from aplypro_calculator.service_layer.repairs import repair_over_cap
from aplypro_contracts import SchoolingOpened, StudentsMerged

from .calculator_world import TERMINALE, Calc

pytestmark = pytest.mark.integration
LATER = date(2026, 1, 5)


def merged(survivor: SchoolingOpened, other: SchoolingOpened) -> list[object]:
    """What the students service publishes, keyed by the survivor: the merge, then the moved schooling with
    the survivor's id and its next version."""
    return [StudentsMerged(producer="students", survivor_id=survivor.student_id, merged_id=other.student_id,
                           version=1),
            other.model_copy(update={"student_id": survivor.student_id, "version": other.version + 1,
                                     "event_id": uuid.uuid4()})]


async def test_two_merged_students_are_priced_under_one_yearly_cap(calc: Calc) -> None:
    # terminale: 20 € a day, 1,000 € a year; 30 days each: 600 € + 600 € would be 1,200 € for one person
    first, second = await calc.schooling(), await calc.schooling()
    p1 = await calc.record(calc.pfmp(first, 30))
    p2 = await calc.record(calc.pfmp(second, 30, start=LATER))  # one person: never two PFMPs at once
    assert (await calc.amount(p1.pfmp_id), await calc.amount(p2.pfmp_id)) == (600, 600)

    mark = await calc.mark()
    await calc.feed(*merged(first, second))  # type: ignore[arg-type]
    assert (await calc.amount(p1.pfmp_id), await calc.amount(p2.pfmp_id)) == (600, 400)
    computed = await calc.events(mark, "AmountComputed")
    assert [(e.pfmp_id, e.student_id, e.amount_cents) for e in computed] == [
        (p2.pfmp_id, first.student_id, 40000)]

    # pfmp's later events may still carry the merged student's id: they stay in the survivor's pool
    await calc.validate(p1)
    await calc.validate(p2)
    [r1], [r2] = await calc.requests(p1.pfmp_id), await calc.requests(p2.pfmp_id)
    assert (r1["state"], r1["amount_cents"], r2["state"], r2["amount_cents"]) == ("ready", 60000, "ready", 40000)
    assert await calc.db.fetchval("SELECT count(DISTINCT student_id) FROM pfmps") == 1

    # a replayed merge changes nothing
    mark = await calc.mark()
    await calc.feed(*merged(first, second)[:1])  # type: ignore[arg-type]
    assert await calc.events(mark) == []


async def test_a_pfmp_of_the_merged_student_first_read_after_the_merge_joins_the_survivors_pool(calc: Calc) -> None:
    first, second = await calc.schooling(), await calc.schooling()
    p1 = await calc.validate(calc.pfmp(first, 40))  # 800 €, paid in full
    await calc.feed(*merged(first, second))  # type: ignore[arg-type]
    late = await calc.validate(calc.pfmp(second, 30, start=LATER))  # keyed and carried by the merged id
    assert (await calc.amount(p1.pfmp_id), await calc.amount(late.pfmp_id)) == (800, 200)
    [request] = await calc.requests(late.pfmp_id)
    assert (request["state"], request["amount_cents"]) == ("ready", 20000)


async def test_a_merge_after_both_requests_left_for_the_asp_pays_nothing_more_and_shows_the_excess(
    calc: Calc,
) -> None:
    # Terminale, 1,000 € a year: each student's 600 € was handed over and sent before anyone saw they are one
    # person. Sent requests cannot be called back: the pair is 200 € over the cap.
    first, second = await calc.schooling(), await calc.schooling()
    p1 = await calc.validate(calc.pfmp(first, 30))
    p2 = await calc.validate(calc.pfmp(second, 30, start=LATER))
    for pfmp in (p1, p2):
        [request] = await calc.requests(pfmp.pfmp_id)
        await calc.feed(calc.asp(request, "sent"))
    assert await calc.db.fetchval("SELECT count(*) FROM over_cap_pools") == 0

    mark = await calc.mark()
    await calc.feed(*merged(first, second))  # type: ignore[arg-type]

    # What left is untouched (committed amounts are never recomputed, calculation.md §3.4) ...
    [r1], [r2] = await calc.requests(p1.pfmp_id), await calc.requests(p2.pfmp_id)
    assert (r1["state"], r1["amount_cents"], r2["state"], r2["amount_cents"]) == ("sent", 60000, "sent", 60000)
    assert await calc.events(mark, "PaymentRequested") == []
    # ... and visible: the pool is reported over cap, for the operator's repair (§5.6) once the ASP paid.
    review = await calc.db.fetchrow("SELECT * FROM over_cap_pools WHERE resolved_at IS NULL")
    assert review is not None
    assert (review["student_id"], review["mef_code"], review["school_year"], review["committed_cents"],
            review["cap_cents"]) == (first.student_id, TERMINALE.code, 2025, 120000, 100000)
    [gauge] = [g.sql for g in CALCULATOR_GAUGES if g.name == "aplypro_pools_over_cap"]
    assert await calc.db.fetchval(gauge) == 1

    # Never one euro more: a later PFMP of the merged student (its events still carry its id) gets nothing.
    late = await calc.validate(calc.pfmp(second, 10, start=date(2026, 3, 2)))
    assert await calc.amount(late.pfmp_id) == 0
    assert await calc.requests(late.pfmp_id) == []

    # Once the ASP paid both, the repair plans the recovery of the excess, and the report is resolved by it.
    for pfmp in (p1, p2):
        [request] = await calc.requests(pfmp.pfmp_id)
        await calc.feed(calc.asp(request, "integrated"), calc.asp(request, "paid", paid_amount=600))
    async with calc.db.acquire() as conn, conn.transaction():
        plan = await repair_over_cap(conn, calc.handlers, confirm=False)
    assert [(p.key, p.plan.excess_cents) for p in plan.pools] == [((first.student_id, TERMINALE.code, 2025), 20000)]
    assert plan.reductions == 1
    async with calc.db.acquire() as conn, conn.transaction():
        await repair_over_cap(conn, calc.handlers, confirm=True)
    assert await calc.db.fetchval(gauge) == 0
