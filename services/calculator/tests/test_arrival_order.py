"""Service-level properties on the real PostgreSQL: the order in which the validations of one day arrive,
and replaying them, never change the final amounts or create a second payment request (lifecycles.md §5:
requests are evaluated, and their amounts committed, only at the next midnight)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_calculator.domain.requests import PARIS
from aplypro_contracts import Envelope, PfmpState, PfmpValidated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .calculator_world import Calc

pytestmark = pytest.mark.integration

# (30-day slot from 6 October, day count) of each PFMP of one pool: one slot each, since overlapping PFMPs
# are never paid (lifecycles.md §4, 12).
PERIODS = st.lists(st.tuples(st.integers(0, 7), st.integers(1, 25)), min_size=1, max_size=6,
                   unique_by=lambda period: period[0])
DAY = datetime(2026, 3, 10, 8, 0, tzinfo=PARIS)  # every validation at some time of this day
MIDNIGHT = datetime(2026, 3, 11, 0, 0, tzinfo=PARIS)


def validated(calc: Calc, schooling: Any, periods: list[tuple[int, int]], ids: list[uuid.UUID]) -> list[Envelope]:
    events: list[Envelope] = []
    for n, ((slot, days), pfmp_id) in enumerate(zip(periods, ids, strict=True)):
        start = date(2025, 10, 6) + timedelta(days=30 * slot)
        events.append(PfmpValidated(producer="pfmp", occurred_at=DAY + timedelta(minutes=37 * n), pfmp=PfmpState(
            pfmp_id=pfmp_id, schooling_id=schooling.schooling_id, student_id=schooling.student_id,
            start_date=start, end_date=start + timedelta(days=29), day_count=days, status="validated",
            created_seq=n + 1, rank=n + 1, version=2)))
    return events


async def amounts(db: asyncpg.Pool, ids: list[uuid.UUID]) -> list[tuple[int | None, int]]:
    """(amount, payment requests) of each PFMP, in the given order."""
    rows = await db.fetch(
        "SELECT p.pfmp_id, p.amount_cents, (SELECT count(*) FROM payment_requests r WHERE r.pfmp_id = p.pfmp_id) n "
        "FROM pfmps p WHERE p.pfmp_id = ANY($1)", ids)
    by_id = {r["pfmp_id"]: (r["amount_cents"], r["n"]) for r in rows}
    return [by_id[i] for i in ids]


async def requests(db: asyncpg.Pool, ids: list[uuid.UUID]) -> list[tuple[str, int | None] | None]:
    """(state, amount) of each PFMP's request, in the given order (None: no request)."""
    rows = await db.fetch("SELECT pfmp_id, state, amount_cents FROM payment_requests WHERE pfmp_id = ANY($1)", ids)
    by_id = {r["pfmp_id"]: (r["state"], r["amount_cents"]) for r in rows}
    return [by_id.get(i) for i in ids]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(periods=PERIODS, data=st.data())
async def test_arrival_order_and_replays_do_not_change_the_amounts(
    nightly: Calc, periods: list[tuple[int, int]], data: st.DataObject
) -> None:
    calc = nightly
    calc.now = DAY.replace(hour=20)  # the events are processed the same evening
    order = data.draw(st.permutations(range(len(periods))))
    # Narrated: the same facts for two students, one fed in creation order, the other shuffled.
    first, second = await calc.schooling(), await calc.schooling()
    ids_a = [uuid.uuid4() for _ in periods]
    ids_b = [uuid.uuid4() for _ in periods]
    for event in validated(calc, first, periods, ids_a):
        await calc.feed(event)
    shuffled = validated(calc, second, periods, ids_b)
    for index in order:
        await calc.feed(shuffled[index])
    in_order, out_of_order = await amounts(calc.db, ids_a), await amounts(calc.db, ids_b)
    assert [a for a, _ in in_order] == [a for a, _ in out_of_order]
    # Replayed as new events (new ids: the inbox cannot absorb them), nothing changes.
    for event in validated(calc, first, periods, ids_a):
        await calc.feed(event)
    assert await amounts(calc.db, ids_a) == in_order
    # Never more than one request per PFMP, and the pool total never exceeds the 1,000 € cap.
    assert all(n <= 1 for _, n in in_order)
    assert sum(a or 0 for a, _ in in_order) <= 100000
    # Not evaluated yet; at midnight both students' requests are ready with those same amounts.
    assert {r[0] for r in await requests(calc.db, ids_a + ids_b) if r is not None} <= {"pending"}
    await calc.evaluate_due(MIDNIGHT)
    expected = [None if not a else ("ready", a) for a, _ in in_order]
    assert await requests(calc.db, ids_a) == await requests(calc.db, ids_b) == expected
