"""The renderer's lanes: several `issue_batch` loops side by side, over one render pool.

The lanes live and die together (a TaskGroup): a lane that fails for good cancels the others before
the caller shuts their render pool down. An orphan lane left on a closed pool would fail every batch it
claims, and each such failure would cost the batch's documents one of their attempts. A transient
database error (a deadlock with the consumer, a failover) is no failure: the batch rolled back whole,
its documents stay queued, the lane waits a moment and goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aplypro_servicekit.deadletter import is_transient

log = structlog.get_logger(__name__)

TRANSIENT_PAUSE_S = 1.0


async def run_lanes(issue_batch: Callable[[], Awaitable[int]], lanes: int, poll_interval_s: float,
                    *, transient_pause_s: float = TRANSIENT_PAUSE_S) -> None:
    """Run `lanes` loops of `issue_batch` until one fails for good; then cancel the rest and raise its error."""

    async def lane() -> None:
        while True:
            try:
                took = await issue_batch()
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
            for _ in range(lanes):
                group.create_task(lane())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first lane's error; the others were cancelled
