"""Render a batch so that a worker crash costs nothing but the payload that causes it.

A render worker that dies fails every payload of its batch with BrokenProcessPool, whichever caused it:
an outside kill (SIGKILL, the OOM killer) or a payload that crashes the worker itself. So a crashed batch
is rendered again by halves (the pool is rebuilt, pool.RenderPool) until the crash is pinned on one
payload; everything else is rendered. A crash is never one of the document's attempts. A payload is
given up only after crashing its worker alone `crashes_alone` times, and only if the pool still runs a
trivial task: when even that fails, the pool is at fault (say, its initializer), not the document.
"Alone" means alone in the pool: the service renders several batches side by side, and a worker killed
under another lane's batch breaks the whole pool, failing this payload's render too. So a payload alone
in its batch is retried in quarantine (the other lanes wait, the pool drained first) before any crash
counts against it.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Executor
from typing import Any, ClassVar

import structlog

log = structlog.get_logger(__name__)

Render = Callable[[list[dict[str, Any]]], list[bytes]]
Outcome = bytes | Exception  # a payload's PDF, or why it has none

# Twice alone: a second crash tells a payload that kills its worker from a kill that happened to land on it.
CRASHES_ALONE = 2
STARTUP_TRIES = 5  # pool rebuilds waited for before a payload is tried alone again
DRAIN_WAIT_S = 300.0  # at most this long for the other lanes' renders to end before a quarantined one

_QUARANTINES: weakref.WeakKeyDictionary[Executor, asyncio.Lock] = weakref.WeakKeyDictionary()


class RenderWorkerCrashedError(RuntimeError):
    """A document whose rendering kills the worker, every time, even alone (never personal data)."""

    code: ClassVar[str] = "render_worker_crashed"


class RenderPoolBrokenError(RuntimeError):
    """The pool cannot run even a trivial task: nothing is blamed on a document, the batch is not taken."""

    code: ClassVar[str] = "render_pool_broken"


class RenderPoolClosedError(RenderPoolBrokenError):
    """The pool was shut down under a batch (its service loop is stopping): the batch is not taken."""

    code: ClassVar[str] = "render_pool_closed"


async def render_isolating(render: Render, payloads: Sequence[dict[str, Any]], executor: Executor | None,
                           *, crashes_alone: int = CRASHES_ALONE) -> list[Outcome]:
    """One outcome per payload, in order.

    A render that raises (not a crash) gives its exception to every payload it held, as one batch failure.
    Raises RenderPoolBrokenError when the pool itself no longer works.
    """
    loop = asyncio.get_running_loop()
    outcomes: dict[int, Outcome] = {}
    quarantine = _quarantine_of(executor)

    async def attempt(indices: list[int], *, quarantined: bool = False) -> bool:
        """False when the worker died; otherwise the outcomes of these payloads are known."""
        if not quarantined and quarantine.locked():
            async with quarantine:  # a suspect renders alone in the pool meanwhile: wait for its verdict
                pass
        try:
            pdfs = await loop.run_in_executor(executor, render, [payloads[i] for i in indices])
        except BrokenExecutor:
            return False
        except RenderPoolBrokenError:
            raise  # the pool's fault, not these documents': no attempt is counted
        except Exception as exc:
            outcomes.update(dict.fromkeys(indices, exc))
            return True
        outcomes.update(zip(indices, pdfs, strict=True))
        return True

    async def isolate(indices: list[int]) -> None:
        if await attempt(indices):
            return
        if len(indices) > 1:
            log.warning("render_worker_crashed", documents=len(indices), action="split")
            half = len(indices) // 2
            await isolate(indices[:half])
            await isolate(indices[half:])
            return
        # Alone in its batch is not alone in the pool: other lanes render side by side, and a worker killed
        # under any of them fails this render too. So a crash counts against the payload only in quarantine:
        # no other render in flight, and none let in until it is over.
        for crashes in range(crashes_alone):
            log.warning("render_worker_crashed", documents=1, crashes=crashes, action="retry_alone")
            async with quarantine:
                # A worker killed while it starts fails the next submit too: blame the payload only for a
                # crash of a worker that was up and running (a trivial task came back from it first).
                await _running_pool(loop, executor)
                await _drained(executor)
                if await attempt(indices, quarantined=True):
                    return
        await _check_pool(loop, executor)
        log.warning("render_worker_crashed", documents=1, crashes=crashes_alone, action="give_up")
        outcomes[indices[0]] = RenderWorkerCrashedError(
            f"the render worker died {crashes_alone} times rendering this document alone")

    await isolate(list(range(len(payloads))))
    return [outcomes[i] for i in range(len(payloads))]


async def _running_pool(loop: asyncio.AbstractEventLoop, executor: Executor | None,
                        tries: int = STARTUP_TRIES) -> None:
    """Until a worker answers a trivial task (the pool rebuilt as often as it breaks), at most `tries`."""
    for _ in range(tries):
        try:
            await loop.run_in_executor(executor, os.getpid)
            return
        except BrokenExecutor:
            continue


async def _check_pool(loop: asyncio.AbstractEventLoop, executor: Executor | None) -> None:
    try:
        await loop.run_in_executor(executor, os.getpid)
    except BrokenExecutor as exc:
        raise RenderPoolBrokenError("the render pool cannot run a trivial task: its workers die on start") from exc



def _quarantine_of(executor: Executor | None) -> asyncio.Lock:
    """One quarantine per pool, shared by every lane rendering on it (a fresh one for the default executor)."""
    if executor is None:
        return asyncio.Lock()
    return _QUARANTINES.setdefault(executor, asyncio.Lock())


async def _drained(executor: Executor | None) -> None:
    """Until no render is in flight in the pool (pool.RenderPool counts them; other executors cannot tell)."""
    in_flight = getattr(executor, "in_flight", None)
    if not callable(in_flight):
        return
    deadline = time.monotonic() + DRAIN_WAIT_S
    while in_flight() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
