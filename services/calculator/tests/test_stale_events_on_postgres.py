"""Stale events are dropped, not applied (issue 9): the calculator keeps the newest version of each PFMP,
schooling and ASP return it holds, counts what it drops, and still follows unversioned (v1) streams."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import PfmpRecorded, PfmpState, PfmpValidated

from .calculator_world import PREMIERE, Calc

pytestmark = pytest.mark.integration


async def pfmp_row(db: asyncpg.Pool, pfmp_id: uuid.UUID) -> dict[str, Any]:
    row = await db.fetchrow("SELECT status, day_count, version FROM pfmps WHERE pfmp_id = $1", pfmp_id)
    assert row is not None
    return dict(row)


async def stale(db: asyncpg.Pool) -> dict[str, int]:
    return {r["event_type"]: int(r["dropped"]) for r in await db.fetch("SELECT * FROM stale_events")}


def recorded_then_validated(calc: Calc, state: PfmpState) -> tuple[PfmpRecorded, PfmpValidated]:
    return (PfmpRecorded(producer="pfmp", pfmp=state.model_copy(update={"version": 1})),
            PfmpValidated(producer="pfmp", pfmp=state.model_copy(update={"status": "validated", "version": 2})))


@pytest.mark.parametrize("batches", ["one event per batch", "both in one batch"])
async def test_an_older_recorded_arriving_after_validated_leaves_the_pfmp_validated_with_its_request(
    calc: Calc, batches: str
) -> None:
    schooling = await calc.schooling()
    recorded, validated = recorded_then_validated(calc, calc.pfmp(schooling, 10))
    # Validated (version 2) is read first, then the older Recorded (version 1) of the same PFMP.
    if batches == "both in one batch":
        await calc.feed(validated, recorded)
    else:
        await calc.feed(validated)
        await calc.feed(recorded)
    # The PFMP stays validated and keeps its payment request: the student is paid.
    pfmp_id = validated.pfmp.pfmp_id
    assert await calc.db.fetchval("SELECT status FROM pfmps WHERE pfmp_id = $1", pfmp_id) == "validated"
    [request] = await calc.requests(pfmp_id)
    assert (request["state"], request["amount_cents"]) == ("ready", 20000)
    assert await pfmp_row(calc.db, pfmp_id) == {"status": "validated", "day_count": 10, "version": 2}
    # The stale event is counted.
    assert await stale(calc.db) == {"PfmpRecorded": 1}


async def test_a_replay_of_the_same_version_is_a_no_op_and_is_counted(calc: Calc) -> None:
    schooling = await calc.schooling()
    recorded, validated = recorded_then_validated(calc, calc.pfmp(schooling, 10))
    await calc.feed(recorded)
    await calc.feed(validated)
    mark = await calc.mark()
    # The same version again, under a new event id (a producer that re-published it).
    await calc.feed(validated.model_copy(update={"event_id": uuid.uuid4(), "pfmp": validated.pfmp.model_copy(
        update={"day_count": 3})}))
    assert (await pfmp_row(calc.db, validated.pfmp.pfmp_id))["day_count"] == 10
    assert len(await calc.requests(validated.pfmp.pfmp_id)) == 1
    assert await calc.events(mark) == []
    assert await stale(calc.db) == {"PfmpValidated": 1}


async def test_unversioned_v1_events_are_still_applied_in_the_order_read(calc: Calc) -> None:
    # Written before the upgrade: both carry version 0 once upcast; the last one read wins, as before.
    schooling = await calc.schooling()
    state = calc.pfmp(schooling, 10).model_copy(update={"version": 0})
    await calc.feed(PfmpRecorded(producer="pfmp", pfmp=state))
    await calc.feed(PfmpValidated(producer="pfmp", pfmp=state.model_copy(update={"status": "validated"})))
    assert (await pfmp_row(calc.db, state.pfmp_id))["status"] == "validated"
    assert len(await calc.requests(state.pfmp_id)) == 1
    # A versioned event then replaces it, and an unversioned one is older than it.
    await calc.feed(PfmpRecorded(producer="pfmp", pfmp=state.model_copy(update={"status": "completed"})))
    assert (await pfmp_row(calc.db, state.pfmp_id))["status"] == "completed"  # version 0 still follows 0
    assert await stale(calc.db) == {}


async def test_an_older_schooling_never_moves_the_pool_back(calc: Calc) -> None:
    schooling = await calc.schooling(mef=PREMIERE)
    pfmp = await calc.record(calc.pfmp(schooling, 10))  # not validated: its amount follows its pool
    newer = schooling.model_copy(update={"event_id": uuid.uuid4(), "mef": schooling.mef.model_copy(
        update={"code": "2473121133", "year": 3}), "version": 3})
    await calc.feed(newer)
    await calc.feed(schooling.model_copy(update={"event_id": uuid.uuid4(), "version": 2}))  # older, late
    mef = await calc.db.fetchval("SELECT mef_code FROM schoolings WHERE schooling_id = $1", schooling.schooling_id)
    assert mef == "2473121133"
    assert await calc.amount(pfmp.pfmp_id) == 200  # terminale: 20 € a day
    assert await stale(calc.db) == {"SchoolingOpened": 1}


async def test_an_older_asp_return_is_dropped(calc: Calc) -> None:
    schooling = await calc.schooling()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    [request] = await calc.requests(pfmp.pfmp_id)
    sent, integrated = calc.asp(request, "sent"), calc.asp(request, "integrated")
    await calc.feed(sent, integrated)
    await calc.feed(calc.asp(request, "sent", version=sent.version))  # the same version again
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["asp_version"]) == ("integrated", integrated.version)
    assert await stale(calc.db) == {"PaymentRequestStateChanged": 1}
