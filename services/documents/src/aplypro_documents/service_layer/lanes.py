"""The documents' lanes: issue lanes and render lanes side by side (issue, then render), over one render pool.

Each lane loops over its batch function (issue.DecisionIssuer.issue_batch, render.DocumentRenderer.render_batch):
asyncio runs them all, so the render lanes go on while the issue lanes have work and the other way round.

The lanes live and die together (a TaskGroup): a lane that fails for good cancels the others before
the caller shuts their render pool down. An orphan lane left on a closed pool would fail every batch it
claims, and each such failure would cost the batch's documents one of their attempts. A transient
database error (a deadlock with the consumer, a failover) is no failure: the batch rolled back whole,
its documents stay queued, the lane waits a moment and goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog
from aplypro_servicekit.deadletter import is_transient

log = structlog.get_logger(__name__)

TRANSIENT_PAUSE_S = 1.0


Batch = Callable[[], Awaitable[int]]


async def run_lanes(issue_batch: Batch, lanes: int, poll_interval_s: float,
                    *, transient_pause_s: float = TRANSIENT_PAUSE_S) -> None:
    """Run `lanes` loops of `issue_batch` until one fails for good; then cancel the rest and raise its error."""
    await run_all([issue_batch] * lanes, poll_interval_s, transient_pause_s=transient_pause_s)


async def run_all(batches: Sequence[Batch], poll_interval_s: float,
                  *, transient_pause_s: float = TRANSIENT_PAUSE_S) -> None:
    """One lane per batch function, until one fails for good; then cancel the rest and raise its error."""

    async def lane(batch: Batch) -> None:
        while True:
            try:
                took = await batch()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("issue_batch_retried", error=type(exc).__name__,
                            sqlstate=getattr(exc, "sqlstate", None))  # fmt: skip
                await asyncio.sleep(transient_pause_s)
                continue
            if not took:
                await asyncio.sleep(poll_interval_s)

    try:
        async with asyncio.TaskGroup() as group:
            for batch in batches:
                group.create_task(lane(batch))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first lane's error; the others were cancelled
