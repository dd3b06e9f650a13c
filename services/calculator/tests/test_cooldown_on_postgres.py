"""The evaluation cool-down (lifecycles.md §5) on the real PostgreSQL: the request of a validated PFMP is due
at the next 00:00 Europe/Paris; until then it is not committed and its amount follows the pool."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from aplypro_calculator.domain.requests import PARIS
from aplypro_calculator.entrypoints.cli import app
from aplypro_calculator.entrypoints.service import build_spec
from aplypro_contracts import PfmpState, PfmpValidated, SchoolingOpened
from aplypro_servicekit.runtime import ServiceRuntime
from typer.testing import CliRunner

from .calculator_world import Calc, settings_for

pytestmark = pytest.mark.integration

# Tuesday 10 March 2026 in Paris (UTC+1): validations during the day, due at midnight (23:00 UTC).
DAY = datetime(2026, 3, 10, 9, 0, tzinfo=PARIS)
MIDNIGHT = datetime(2026, 3, 11, 0, 0, tzinfo=PARIS)
JUST_BEFORE = MIDNIGHT - timedelta(microseconds=1)
SEPT, OCT = date(2025, 9, 8), date(2025, 10, 6)
# Terminale: 20 €/day, cap 1,000 €. The brief's example: four PFMPs created in this order (the brief gave them
# the same dates; one after the other here, since overlapping PFMPs are never paid: lifecycles.md §4, 12).
EXAMPLE_DAYS = [1, 1, 24, 25]


async def validate_example(calc: Calc, schooling: SchoolingOpened, order: tuple[int, ...]) -> list[PfmpState]:
    """Create the example's PFMPs in creation order and validate them, one event each, in `order`."""
    pfmps = [calc.pfmp(schooling, days, start=OCT + timedelta(days=40 * n), length=40, status="validated")
             for n, days in enumerate(EXAMPLE_DAYS)]
    for n, index in enumerate(order):  # 09:00, 10:00, 11:00, 12:00
        await calc.feed(PfmpValidated(producer="pfmp", pfmp=pfmps[index], occurred_at=DAY + timedelta(hours=n)))
    return pfmps


async def request_rows(calc: Calc, pfmps: list[PfmpState]) -> list[tuple[str, int | None, list[str]]]:
    rows = [(await calc.requests(p.pfmp_id))[-1] for p in pfmps]
    return [(r["state"], r["amount_cents"], r["reasons"]) for r in rows]


async def test_the_examples_amounts_do_not_depend_on_the_order_of_one_days_validations(nightly: Calc) -> None:
    nightly.now = DAY.replace(hour=22)  # processed the same evening
    mark = await nightly.mark()
    orders = list(itertools.permutations(range(4)))
    students = [await validate_example(nightly, await nightly.schooling(), order) for order in orders]

    # Every order gives creation-order amounts, 20/20/480/480; nothing is committed and no request event
    # is written yet: the requests wait, pending, with the amount of the pool.
    for pfmps in students:
        assert [await nightly.amount(p.pfmp_id) for p in pfmps] == [20, 20, 480, 480]
        assert await request_rows(nightly, pfmps) == [
            ("pending", 2000, []), ("pending", 2000, []), ("pending", 48000, []), ("pending", 48000, [])]
    assert await nightly.events(mark, "PaymentRequested") == []
    assert await nightly.events(mark, "PaymentRequestBlocked") == []

    # Not due one microsecond before midnight; at midnight all are ready with those amounts, frozen.
    assert (await nightly.evaluate_due(JUST_BEFORE)).requests == 0
    done = await nightly.evaluate_due(MIDNIGHT, batch_size=7)  # several batches
    assert (done.requests, done.ready, done.blocked, done.skipped) == (4 * len(orders), 4 * len(orders), 0, 0)
    for pfmps in students:
        assert await request_rows(nightly, pfmps) == [
            ("ready", 2000, []), ("ready", 2000, []), ("ready", 48000, []), ("ready", 48000, [])]
    requested = await nightly.events(mark, "PaymentRequested")
    assert sorted(e.amount_cents for e in requested) == sorted([2000, 2000, 48000, 48000] * len(orders))
    assert await nightly.events(mark, "PaymentRequestBlocked") == []
    # A second pass finds nothing to do.
    assert (await nightly.evaluate_due(MIDNIGHT + timedelta(hours=1))).requests == 0


async def test_without_cool_down_the_request_is_ready_at_once_and_the_order_shows(calc: Calc) -> None:
    # `none` (demos, tests): evaluated at creation, so an earlier validation commits its share first.
    in_order = await validate_example(calc, await calc.schooling(), (0, 1, 2, 3))
    out_of_order = await validate_example(calc, await calc.schooling(), (0, 1, 3, 2))
    assert [r[:2] for r in await request_rows(calc, in_order)] == [
        ("ready", 2000), ("ready", 2000), ("ready", 48000), ("ready", 48000)]
    assert [r[:2] for r in await request_rows(calc, out_of_order)] == [
        ("ready", 2000), ("ready", 2000), ("ready", 46000), ("ready", 50000)]


async def test_a_request_is_not_evaluated_before_due_time_even_when_its_pool_changes(nightly: Calc) -> None:
    nightly.now = DAY
    schooling = await nightly.schooling()
    a = await nightly.validate(nightly.pfmp(schooling, 30, start=OCT), at=DAY)
    [request] = await nightly.requests(a.pfmp_id)
    assert (request["state"], request["amount_cents"], request["due_at"]) == ("pending", 60000, MIDNIGHT)

    # Later that day an earlier PFMP of the pool is entered: A is not committed, its share shrinks.
    mark = await nightly.mark()
    nightly.now = DAY.replace(hour=15)
    b = await nightly.record(nightly.pfmp(schooling, 45, start=SEPT))
    assert (await nightly.amount(a.pfmp_id), await nightly.amount(b.pfmp_id)) == (100, 900)
    [request] = await nightly.requests(a.pfmp_id)
    assert (request["state"], request["amount_cents"], request["reasons"]) == ("pending", 10000, [])
    assert [e.event_type for e in await nightly.events(mark)] == ["AmountComputed", "AmountComputed"]
    assert (await nightly.evaluate_due(JUST_BEFORE)).requests == 0

    # At midnight A is ready with 100 €, committed: B's later growth does not touch it.
    done = await nightly.evaluate_due(MIDNIGHT)
    assert (done.requests, done.ready) == (1, 1)
    [request] = await nightly.requests(a.pfmp_id)
    assert (request["state"], request["amount_cents"]) == ("ready", 10000)
    nightly.now = MIDNIGHT + timedelta(hours=9)
    await nightly.record(b, day_count=50)
    assert (await nightly.amount(a.pfmp_id), await nightly.amount(b.pfmp_id)) == (100, 900)


async def test_the_delayed_events_continue_the_flow_of_the_validation(nightly: Calc) -> None:
    nightly.now = DAY
    schooling = await nightly.schooling()
    pfmp = nightly.pfmp(schooling, 10, status="validated")
    validation = PfmpValidated(producer="pfmp", pfmp=pfmp, occurred_at=DAY)
    await nightly.feed(validation)
    mark = await nightly.mark()
    await nightly.evaluate_due(MIDNIGHT)
    [requested] = await nightly.events(mark, "PaymentRequested")
    assert (requested.causation_id, requested.correlation_id, requested.amount_cents) == (
        validation.event_id, validation.correlation_id, 20000)


async def test_a_due_request_is_evaluated_by_any_event_of_its_pool(nightly: Calc) -> None:
    nightly.now = DAY
    schooling = await nightly.schooling()
    a = await nightly.validate(nightly.pfmp(schooling, 10, start=OCT), at=DAY)
    nightly.now = MIDNIGHT + timedelta(minutes=5)  # due, but the evaluator has not passed yet
    mark = await nightly.mark()
    await nightly.record(nightly.pfmp(schooling, 5, start=SEPT))
    [request] = await nightly.requests(a.pfmp_id)
    assert (request["state"], request["amount_cents"]) == ("ready", 20000)
    assert [e.pfmp_id for e in await nightly.events(mark, "PaymentRequested")] == [a.pfmp_id]
    assert (await nightly.evaluate_due(nightly.now)).requests == 0


async def test_a_request_that_falls_to_zero_before_it_is_due_is_withdrawn_and_comes_back(nightly: Calc) -> None:
    # As a validated PFMP at 0 gets no request, which PFMPs have one does not depend on the order either.
    nightly.now = DAY
    schooling = await nightly.schooling()
    a = await nightly.validate(nightly.pfmp(schooling, 10, start=OCT), at=DAY)
    b = await nightly.record(nightly.pfmp(schooling, 50, start=SEPT))  # takes the whole cap
    assert (await nightly.amount(a.pfmp_id), await nightly.requests(a.pfmp_id)) == (0, [])
    await nightly.record(b, day_count=45)  # 100 € back the same day: a request again, due at midnight
    [request] = await nightly.requests(a.pfmp_id)
    assert (request["state"], request["amount_cents"], request["due_at"]) == ("pending", 10000, MIDNIGHT)
    await nightly.evaluate_due(MIDNIGHT)
    assert [r["state"] for r in await nightly.requests(a.pfmp_id)] == ["ready"]


async def test_a_request_created_after_its_due_time_is_evaluated_at_once(nightly: Calc) -> None:
    # D10 with the cool-down: validated at 0 today, cap freed tomorrow: the cool-down has passed.
    nightly.now = DAY
    schooling = await nightly.schooling()
    b = await nightly.record(nightly.pfmp(schooling, 50, start=SEPT))
    a = await nightly.validate(nightly.pfmp(schooling, 10, start=OCT), at=DAY)
    assert await nightly.requests(a.pfmp_id) == []
    nightly.now = MIDNIGHT + timedelta(hours=10)
    await nightly.record(b, day_count=45)
    [request] = await nightly.requests(a.pfmp_id)
    assert (request["state"], request["amount_cents"], request["due_at"]) == ("ready", 10000, MIDNIGHT)


async def test_a_redelivered_validation_does_not_move_the_due_time(nightly: Calc) -> None:
    nightly.now = DAY
    schooling = await nightly.schooling()
    pfmp = await nightly.validate(nightly.pfmp(schooling, 10), at=DAY)
    nightly.now = DAY.replace(hour=23, minute=30)
    await nightly.validate(pfmp, at=DAY + timedelta(days=1))  # same facts, new event, next day's stamp
    [request] = await nightly.requests(pfmp.pfmp_id)
    assert (request["state"], request["due_at"]) == ("pending", MIDNIGHT)
    assert await nightly.db.fetchval("SELECT validated_at FROM pfmps WHERE pfmp_id = $1", pfmp.pfmp_id) == DAY


async def test_rectifications_are_evaluated_at_once_even_with_the_cool_down(nightly: Calc) -> None:
    nightly.now = DAY
    schooling = await nightly.schooling()
    pfmp = await nightly.validate(nightly.pfmp(schooling, 3), at=DAY)
    await nightly.evaluate_due(MIDNIGHT)
    nightly.now = MIDNIGHT + timedelta(days=20)
    await nightly.pay(pfmp)
    await nightly.feed(nightly.rectified(pfmp, 5))
    paid, new = await nightly.requests(pfmp.pfmp_id)
    assert (paid["state"], new["kind"], new["state"], new["amount_cents"], new["due_at"]) == (
        "paid", "rectification", "ready", 10000, None)


async def test_a_blocked_request_is_published_at_due_time(nightly: Calc) -> None:
    nightly.now = DAY
    schooling = await nightly.schooling()
    pfmp = await nightly.validate(nightly.pfmp(schooling, 10), at=DAY)
    # The day count is wrong (above the calendar days), as a legacy PFMP could be: blocked with `pfmp`.
    await nightly.db.execute("UPDATE pfmps SET end_date = start_date + 5 WHERE pfmp_id = $1", pfmp.pfmp_id)
    mark = await nightly.mark()
    done = await nightly.evaluate_due(MIDNIGHT)
    assert (done.requests, done.ready, done.blocked) == (1, 0, 1)
    [blocked] = await nightly.events(mark, "PaymentRequestBlocked")
    assert (blocked.pfmp_id, blocked.reasons, blocked.parked) == (pfmp.pfmp_id, ("pfmp",), False)
    assert (await nightly.requests(pfmp.pfmp_id))[0]["state"] == "incomplete"


async def test_a_pending_request_created_before_due_times_existed_is_evaluated_by_the_evaluator(calc: Calc) -> None:
    schooling = await calc.schooling()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    # As migration 0003 finds a request created and not evaluated yet: pending, no reasons, no due time.
    await calc.db.execute("UPDATE payment_requests SET state = 'pending' WHERE pfmp_id = $1", pfmp.pfmp_id)
    done = await calc.evaluate_due(datetime.now(UTC))
    assert (done.requests, done.ready) == (1, 1)
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["ready"]


async def test_the_evaluator_leaves_a_pool_with_a_writer_to_the_next_pass_without_waiting(nightly: Calc) -> None:
    nightly.now = DAY
    busy = await nightly.validate(nightly.pfmp(await nightly.schooling(), 10), at=DAY)
    free = await nightly.validate(nightly.pfmp(await nightly.schooling(), 10), at=DAY)
    async with nightly.db.acquire() as writer, writer.transaction():
        # Another writer holds one PFMP of the first pool (as the consumer does while it recomputes it).
        await writer.execute("SELECT 1 FROM pfmps WHERE pfmp_id = $1 FOR UPDATE", busy.pfmp_id)
        done = await asyncio.wait_for(nightly.evaluate_due(MIDNIGHT), timeout=10)
        assert (done.requests, done.skipped) == (1, 1)
    assert [r["state"] for r in await nightly.requests(free.pfmp_id)] == ["ready"]
    assert [r["state"] for r in await nightly.requests(busy.pfmp_id)] == ["pending"]
    done = await nightly.evaluate_due(MIDNIGHT)
    assert (done.requests, done.skipped) == (1, 0)
    assert [r["state"] for r in await nightly.requests(busy.pfmp_id)] == ["ready"]


async def test_two_evaluators_at_once_evaluate_each_request_exactly_once(nightly: Calc) -> None:
    nightly.now = DAY
    pfmps = [await nightly.validate(nightly.pfmp(await nightly.schooling(), 10), at=DAY) for _ in range(40)]
    mark = await nightly.mark()
    first, second = await asyncio.gather(nightly.evaluate_due(MIDNIGHT, batch_size=3),
                                         nightly.evaluate_due(MIDNIGHT, batch_size=3))
    leftover = await nightly.evaluate_due(MIDNIGHT)  # what a busy pool left to the next pass
    assert first.requests + second.requests + leftover.requests == 40
    requested = await nightly.events(mark, "PaymentRequested")
    assert sorted(e.pfmp_id for e in requested) == sorted(p.pfmp_id for p in pfmps)


async def test_the_evaluate_due_command_runs_one_pass(nightly: Calc, cli_env: dict[str, str]) -> None:
    nightly.now = DAY
    pfmp = await nightly.validate(nightly.pfmp(await nightly.schooling(), 10), at=DAY)

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args), env=cli_env)
        return result.exit_code, result.output

    code, out = await asyncio.to_thread(cli, "explain", str(pfmp.pfmp_id))
    assert "payment; pending; 200 €; not evaluated yet, due 2026-03-11 00:00 Europe/Paris" in out
    code, out = await asyncio.to_thread(cli, "evaluate-due", "--now", "2026-03-10T23:59:59")  # Paris time
    assert (code, out.strip()) == (0, "due at 2026-03-10T23:59:59+01:00: requests evaluated: 0 (ready 0, "
                                      "blocked 0); pools: 0; events written: 0; left for the next pass (pool busy): 0")
    code, out = await asyncio.to_thread(cli, "evaluate-due", "--now", "2026-03-10T23:00:00Z")
    assert code == 0, out
    assert "requests evaluated: 1 (ready 1, blocked 0); pools: 1; events written: 1;" in out
    assert [r["state"] for r in await nightly.requests(pfmp.pfmp_id)] == ["ready"]
    code, out = await asyncio.to_thread(cli, "evaluate-due", "--now", "tomorrow")
    assert code == 2
    code, out = await asyncio.to_thread(cli, "evaluate-due")  # now: nothing left
    assert code == 0, out
    assert "requests evaluated: 0" in out


async def test_the_background_task_evaluates_due_requests_periodically(
    nightly: Calc, namespace: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Validated two days ago (as the calculator then saw it): due since last night by the real clock.
    validated_at = datetime.now(UTC) - timedelta(days=2)
    nightly.now = validated_at
    pfmp = await nightly.validate(nightly.pfmp(await nightly.schooling(), 10), at=validated_at)
    assert [r["state"] for r in await nightly.requests(pfmp.pfmp_id)] == ["pending"]

    monkeypatch.setenv("APLYPRO_CALCULATOR_EVALUATION_INTERVAL_S", "0.05")
    spec = build_spec(settings_for(namespace))
    [task] = [t for t in spec.background if t.__name__ == "evaluate_due_requests"]
    runtime: Any = type("Runtime", (), {"pool": nightly.db, "settings": settings_for(namespace)})()
    running = asyncio.ensure_future(task(cast(ServiceRuntime, runtime)))  # typed Awaitable: not create_task
    try:
        for _ in range(200):
            if [r["state"] for r in await nightly.requests(pfmp.pfmp_id)] == ["ready"]:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the background task did not evaluate the due request")
        assert not running.done()  # it keeps running, pass after pass
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
