"""The renderer's lanes retry a transient database error, and die together on any other.

Drill of 5 December (20,000 students): a deadlock between a lane and the consumer ended one lane; the
others went on over the render pool their service loop had just shut down, and every batch they claimed
failed ("cannot schedule new futures after shutdown") until 6,405 états liquidatifs were dead-lettered.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aplypro_documents.service_layer.lanes import run_lanes


class Stop(Exception):
    """Ends a test's lanes: an error that is not transient."""


async def test_a_deadlock_in_a_lane_is_retried_and_the_lanes_go_on() -> None:
    calls = 0

    async def issue_batch() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 2:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        if calls == 20:
            raise Stop
        return 1

    with pytest.raises(Stop):
        await asyncio.wait_for(run_lanes(issue_batch, 3, 0.01, transient_pause_s=0.01), 10)
    assert calls == 20  # the deadlock ended no lane: they went on to the twentieth batch


async def test_a_lane_that_fails_for_good_stops_every_other_lane_before_it_returns() -> None:
    calls, running = 0, 0

    async def issue_batch() -> int:
        nonlocal calls, running
        calls += 1
        if calls == 5:
            raise Stop
        running += 1
        try:
            await asyncio.sleep(0.02)
        finally:
            running -= 1
        return 1

    with pytest.raises(Stop):  # the lane's own error, not an ExceptionGroup
        await asyncio.wait_for(run_lanes(issue_batch, 3, 0.01), 10)
    assert running == 0  # no batch still in flight once the caller may shut the render pool down
    before = calls
    await asyncio.sleep(0.2)
    assert calls == before  # and no orphan lane claims another batch later


async def test_an_empty_queue_is_polled_not_spun() -> None:
    calls = 0

    async def issue_batch() -> int:
        nonlocal calls
        calls += 1
        return 0

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run_lanes(issue_batch, 2, 0.1), 0.35)
    assert 2 <= calls <= 10  # two lanes, one look every 0.1 s each
