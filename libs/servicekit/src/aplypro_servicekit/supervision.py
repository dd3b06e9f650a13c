"""Keeping loops and child processes alive, and stopping them: shared by the service and its children."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from multiprocessing.process import BaseProcess

import structlog

log = structlog.get_logger(__name__)


async def keep_running(factory: Callable[[], Awaitable[None]], what: str) -> None:
    """Run a loop again after an error (database or broker briefly down) instead of letting it die."""
    while True:
        try:
            await factory()
            return
        except Exception as exc:
            log.error("background_task_failed", task=what, error=type(exc).__name__, detail=str(exc)[:200])
            await asyncio.sleep(1.0)


async def keep_process(start: Callable[[], BaseProcess], running: dict[str, BaseProcess], name: str) -> None:
    """Start a child process, and start it again whenever it dies; `running[name]` is the current one."""
    while True:
        process = running[name] = start()
        while process.is_alive():
            await asyncio.sleep(0.5)
        log.error("child_process_died", child=name, exit_code=process.exitcode)
        await asyncio.sleep(1.0)


async def stop_process(process: BaseProcess, seconds: float) -> None:
    """SIGTERM (the child finishes its work and exits), then SIGKILL if it takes longer than `seconds`."""
    if not process.is_alive():
        return
    process.terminate()
    await asyncio.to_thread(process.join, seconds)
    if process.is_alive():
        process.kill()
        await asyncio.to_thread(process.join, 5)


async def watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Set `stop` when the process that started this one is gone (killed outright)."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(0.5)
    log.warning("parent_gone")
    stop.set()
