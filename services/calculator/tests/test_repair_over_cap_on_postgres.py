"""Over-cap repair (calculation.md §5.6) on the real PostgreSQL: worked examples 37–40, dry run, idempotence.

Over-cap pools come from a barème lowered after payment: the tests pay PFMPs under a made-up barème, then
lower the pool's cap (or rate) in the schooling row, as a barème correction leaves it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from aplypro_calculator.domain.rectification import RepairPlan, plan_over_cap_repair
from aplypro_calculator.entrypoints.cli import app
from aplypro_calculator.service_layer import repairs
from aplypro_calculator.service_layer.handlers import Handlers
from aplypro_calculator.service_layer.operations import release_parked
from aplypro_calculator.service_layer.repairs import OverCapRepair, repair_over_cap
from aplypro_contracts import PfmpState, SchoolingOpened
from typer.testing import CliRunner

from .calculator_world import PREMIERE, Calc

pytestmark = pytest.mark.integration

SEPT = date(2025, 9, 1)


async def pool_with_bareme(calc: Calc, rate_euros: int, cap_euros: int) -> SchoolingOpened:
    schooling = await calc.schooling(mef=PREMIERE)
    await set_bareme(calc, schooling, rate_euros, cap_euros)
    return schooling


async def set_bareme(calc: Calc, schooling: SchoolingOpened, rate_euros: int, cap_euros: int) -> None:
    await calc.db.execute("UPDATE schoolings SET daily_rate_cents = $2, yearly_cap_cents = $3 WHERE schooling_id = $1",
                          schooling.schooling_id, rate_euros * 100, cap_euros * 100)


async def paid(calc: Calc, schooling: SchoolingOpened, *day_counts: int) -> list[PfmpState]:
    """One paid PFMP per day count, three weeks apart, in this chronological order."""
    pfmps = []
    for i, days in enumerate(day_counts):
        pfmp = await calc.validate(calc.pfmp(schooling, days, start=SEPT + timedelta(weeks=3 * i), length=20))
        await calc.pay(pfmp)
        pfmps.append(pfmp)
    return pfmps


async def repair(calc: Calc, *, confirm: bool, handlers: Handlers | None = None) -> OverCapRepair:
    async with calc.db.acquire() as conn, conn.transaction():
        return await repair_over_cap(conn, handlers or calc.handlers, confirm=confirm)


async def snapshot(calc: Calc) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Requests, PFMP facts and amounts, and the outbox mark: what a repair could change."""
    requests = await calc.db.fetch("SELECT * FROM payment_requests ORDER BY seq")
    pfmps = await calc.db.fetch("SELECT * FROM pfmps ORDER BY created_seq")
    return [dict(r) for r in requests], [dict(r) for r in pfmps], await calc.mark()


async def committed_total(calc: Calc, pfmps: list[PfmpState]) -> int:
    total = 0
    for pfmp in pfmps:
        latest = (await calc.requests(pfmp.pfmp_id))[-1]
        total += latest["amount_cents"] if latest["state"] in ("ready", "sent", "integrated", "paid") else 0
    return total // 100


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.output


async def test_example_37_through_the_command_dry_run_confirm_and_again(calc: Calc, cli_env: dict[str, str]) -> None:
    # Cap 300 €; two paid PFMPs of 170 € (17 days at 10 €): excess 40 €.
    schooling = await pool_with_bareme(calc, 10, 1000)
    a, b = await paid(calc, schooling, 17, 17)
    await set_bareme(calc, schooling, 10, 300)
    before = await snapshot(calc)

    code, out = await run_cli(cli_env, "repair-over-cap")
    assert code == 0, out
    assert out.splitlines() == [
        "over-cap pools: 1; planned reductions: 1",
        f"student {schooling.student_id} MEF {PREMIERE.code} school year 2025-2026: cap 300 €, committed 340 €, "
        "excess 40 €",
        f"  plan: {a.pfmp_id}: 170 € → 130 €, recovery 40 € (parked: negative_rectification)",
        "  plan: remaining excess 0 € (30 € or less: done)",
        "dry run: nothing changed (--confirm applies the plan)",
    ]
    assert await snapshot(calc) == before  # a dry run changes nothing

    code, out = await run_cli(cli_env, "repair-over-cap", "--confirm")
    assert code == 0, out
    new = (await calc.requests(a.pfmp_id))[-1]
    assert f"  applied: PFMP {a.pfmp_id} recovery 170 € → 130 € (parked: negative_rectification); " \
           f"request {new['payment_request_id']}" in out.splitlines()
    assert out.splitlines()[-1].startswith("applied: rectifications 1; events written: ")
    # The first (equal amounts: chronological) is rectified to 130 €: a recovery of 40 €, parked (§5.4).
    assert [r["state"] for r in await calc.requests(a.pfmp_id)] == ["paid", "pending"]
    assert (new["kind"], new["amount_cents"], new["base_cents"], new["reasons"]) == (
        "rectification", 13000, 17000, ["negative_rectification"])
    assert [r["state"] for r in await calc.requests(b.pfmp_id)] == ["paid"]
    row = await calc.db.fetchrow("SELECT status, day_count, amount_cents FROM pfmps WHERE pfmp_id = $1", a.pfmp_id)
    assert row is not None
    assert dict(row) == {"status": "rectified", "day_count": 17, "amount_cents": 13000}  # the facts are kept
    [computed] = await calc.events(before[2], "RectificationComputed")
    assert (computed.pfmp_id, computed.outcome, computed.base_cents, computed.new_cents, computed.difference_cents,
            computed.parked, computed.payment_request_id) == (
        a.pfmp_id, "recovery", 17000, 13000, -4000, True, new["payment_request_id"])
    [blocked] = await calc.events(before[2], "PaymentRequestBlocked")
    assert (blocked.reasons, blocked.parked) == (("negative_rectification",), True)
    # All of one flow, the operator's command.
    assert len({e.correlation_id for e in await calc.events(before[2])}) == 1

    # Nothing is over cap any more: a second confirmed repair changes nothing.
    after = await snapshot(calc)
    code, out = await run_cli(cli_env, "repair-over-cap", "--confirm")
    assert (code, out.splitlines()) == (0, ["over-cap pools: 0; planned reductions: 0",
                                            "applied: rectifications 0; events written: 0"])
    assert await snapshot(calc) == after


async def test_example_38_two_set_to_0_six_stay_50(calc: Calc) -> None:
    schooling = await pool_with_bareme(calc, 10, 1000)
    pfmps = await paid(calc, schooling, *[5] * 8)  # eight paid PFMPs of 50 €
    await set_bareme(calc, schooling, 10, 300)  # excess 100 €

    before = await snapshot(calc)
    dry = await repair(calc, confirm=False)
    assert [(p.plan.excess_cents, [r.pfmp_id for r in p.plan.reductions]) for p in dry.pools] == [
        (10000, [str(pfmps[0].pfmp_id), str(pfmps[1].pfmp_id)])]
    assert await snapshot(calc) == before

    done = await repair(calc, confirm=True)
    assert [(c.new_cents, c.difference_cents, c.parked) for c in done.pools[0].applied] == [
        (0, -5000, True), (0, -5000, True)]
    for pfmp in pfmps[:2]:  # a full cancellation: day count 0, a parked request for a total of 0 €
        assert [(r["state"], r["amount_cents"]) for r in await calc.requests(pfmp.pfmp_id)] == [
            ("paid", 5000), ("pending", 0)]
        assert await calc.db.fetchval("SELECT day_count FROM pfmps WHERE pfmp_id = $1", pfmp.pfmp_id) == 0
    for pfmp in pfmps[2:]:
        assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["paid"]
    assert await committed_total(calc, pfmps) == 300

    # Negative rectifications switched on: the two go to ASP with their new total, 0 €, as rectifications.
    mark = await calc.mark()
    async with calc.db.acquire() as conn, conn.transaction():
        await release_parked(conn, calc.with_switch(True))
    requested = await calc.events(mark, "PaymentRequested")
    assert sorted((e.pfmp_id, e.amount_cents, e.rectification) for e in requested) == sorted(
        (p.pfmp_id, 0, True) for p in pfmps[:2])
    assert await committed_total(calc, pfmps) == 300

    after = await snapshot(calc)
    again = await repair(calc, confirm=True, handlers=calc.with_switch(True))
    assert (again.pools, again.events) == ([], 0)
    assert await snapshot(calc) == after


async def test_example_39_an_excess_of_30_euros_or_less_is_listed_and_left_alone(calc: Calc) -> None:
    schooling = await pool_with_bareme(calc, 10, 1000)
    await paid(calc, schooling, 11, 11, 11)  # three paid PFMPs of 110 €
    await set_bareme(calc, schooling, 10, 300)  # excess 30 €

    before = await snapshot(calc)
    done = await repair(calc, confirm=True)
    [pool] = done.pools
    assert (pool.plan.excess_cents, pool.plan.reductions, pool.applied, done.events) == (3000, [], [], 0)
    assert await snapshot(calc) == before


async def test_example_40_a_lowered_bareme_is_repaired_by_a_recovery_of_300(calc: Calc) -> None:
    schooling = await pool_with_bareme(calc, 90, 1000)
    [pfmp] = await paid(calc, schooling, 10)  # 10 days at 90 € = 900 € paid
    await set_bareme(calc, schooling, 90, 600)  # the corrected barème: 90 €/600 €

    mark = await calc.mark()
    done = await repair(calc, confirm=True, handlers=calc.with_switch(True))
    [computed] = done.pools[0].applied
    assert (computed.outcome, computed.new_cents, computed.difference_cents, computed.parked) == (
        "recovery", 60000, -30000, False)
    # Switched on: the new total goes to ASP at once, flagged as a rectification; the 10 days stay.
    new = (await calc.requests(pfmp.pfmp_id))[-1]
    assert (new["state"], new["amount_cents"], new["kind"]) == ("ready", 60000, "rectification")
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.payment_request_id, requested.amount_cents, requested.rectification, requested.day_count) == (
        new["payment_request_id"], 60000, True, 10)

    after = await snapshot(calc)
    assert (await repair(calc, confirm=True, handlers=calc.with_switch(True))).pools == []
    assert await snapshot(calc) == after


async def test_the_plan_is_applied_as_printed_whatever_the_chronological_order(calc: Calc) -> None:
    # Cap 100 €: A (earliest) 90 €, B 80 €, C 60 € paid; excess 130 €. Largest first: A → 0, B → 40 €.
    schooling = await pool_with_bareme(calc, 10, 1000)
    a, b, c = await paid(calc, schooling, 9, 8, 6)
    await set_bareme(calc, schooling, 10, 100)

    done = await repair(calc, confirm=True, handlers=calc.with_switch(True))
    planned = [(r.pfmp_id, r.outcome.new_cents) for r in done.pools[0].plan.reductions]
    assert planned == [(str(a.pfmp_id), 0), (str(b.pfmp_id), 4000)]
    assert [(str(x.pfmp_id), x.new_cents) for x in done.pools[0].applied] == planned
    # A is priced before B in class 2 (chronological), yet holds nothing at 0 days: B gets what the plan says.
    assert [(await calc.requests(p.pfmp_id))[-1]["amount_cents"] for p in (a, b, c)] == [0, 4000, 6000]
    assert await committed_total(calc, [a, b, c]) == 100



async def test_the_plan_is_what_is_applied_when_the_days_now_price_below_the_planned_total(
        calc: Calc, cli_env: dict[str, str]) -> None:
    # Paid at 10 €/day: A 90 € (9 days), B 80 € (8), C 60 € (6). The barème is corrected to 4 €/day, 100 €:
    # excess 130 €. B keeps its 8 days, so it can get at most 32 €: the plan says so, and the repair applies it.
    schooling = await pool_with_bareme(calc, 10, 1000)
    a, b, c = await paid(calc, schooling, 9, 8, 6)
    await set_bareme(calc, schooling, 4, 100)

    code, dry_run = await run_cli(cli_env, "repair-over-cap")
    assert code == 0, dry_run
    assert f"  plan: {b.pfmp_id}: 80 € → 32 €, recovery 48 € (parked: negative_rectification)" in dry_run.splitlines()

    done = await repair(calc, confirm=True, handlers=calc.with_switch(True))
    planned = [(r.pfmp_id, r.outcome.new_cents, r.outcome.difference_cents) for r in done.pools[0].plan.reductions]
    assert planned == [(str(a.pfmp_id), 0, -9000), (str(b.pfmp_id), 3200, -4800)]
    assert [(str(x.pfmp_id), x.new_cents, x.difference_cents) for x in done.pools[0].applied] == planned
    assert [(await calc.requests(p.pfmp_id))[-1]["amount_cents"] for p in (a, b, c)] == [0, 3200, 6000]
    assert await committed_total(calc, [a, b, c]) == 92


async def test_a_rectification_that_would_differ_from_the_plan_rolls_the_whole_repair_back(
        calc: Calc, monkeypatch: pytest.MonkeyPatch) -> None:
    # Guard: whatever makes a computed total differ from the printed plan, nothing is applied. Here a plan
    # that promises B 1 € more than a rectification can give it.
    schooling = await pool_with_bareme(calc, 10, 1000)
    await paid(calc, schooling, 9, 8, 6)
    await set_bareme(calc, schooling, 10, 100)
    before = await snapshot(calc)

    def optimistic(cap_cents: int, paid: Any, **options: Any) -> RepairPlan:
        plan = plan_over_cap_repair(cap_cents, paid, **options)
        *first, last = plan.reductions
        wrong = replace(last, outcome=replace(last.outcome, new_cents=last.outcome.new_cents + 100))
        return replace(plan, reductions=[*first, wrong])

    monkeypatch.setattr(repairs, "plan_over_cap_repair", optimistic)
    with pytest.raises(repairs.RepairPlanMismatch) as caught:
        await repair(calc, confirm=True)
    assert caught.value.code == "repair_plan_mismatch"
    assert await snapshot(calc) == before
