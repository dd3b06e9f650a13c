"""The outbox relay in a process of its own, so publishing runs on another core than the consumers.

The parent (the service) starts it, restarts it if it dies, and stops it with SIGTERM; the relay then
publishes what is left while it still holds the relay lock, unlocks and exits. If the parent is killed
outright, the relay notices (its parent changes) and stops the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from multiprocessing.process import BaseProcess

import structlog

from .gc_tuning import tune_gc
from .logs import configure_logging
from .metrics_share import share_metrics
from .relay_factory import start_relay
from .settings import ServiceSettings
from .supervision import watch_parent
from .tracing import configure_tracing, flush

log = structlog.get_logger(__name__)


def start_relay_process(settings: ServiceSettings, service: str, schema: str) -> BaseProcess:
    # spawn, not fork: the parent's event loop, sockets and threads must not leak into the child.
    process = multiprocessing.get_context("spawn").Process(
        target=_main, args=(settings, service, schema, os.getpid()), name=f"{service}-relay", daemon=False,
    )
    process.start()
    return process


def _main(settings: ServiceSettings, service: str, schema: str, parent_pid: int) -> None:
    tune_gc()
    configure_logging(f"{service}-relay", settings.log_level, settings.log_json)
    configure_tracing(service, settings.otel_enabled)
    try:
        asyncio.run(_run(settings, schema, parent_pid))
    finally:
        flush()  # a multiprocessing child exits without running atexit hooks


async def _run(settings: ServiceSettings, schema: str, parent_pid: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = await start_relay(settings, schema)
    watcher = asyncio.create_task(watch_parent(parent_pid, stop))
    # The main process serves this process's metrics too (metrics_share.py).
    sharing = (asyncio.create_task(share_metrics(settings.ops_metrics_dir, "relay"))
               if settings.ops_metrics_dir else None)
    log.info("relay_started", schema=schema)
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await running.stop()
        if sharing is not None:  # after the drain: its last snapshot counts what the drain published
            sharing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sharing
        log.info("relay_stopped", published=running.relay.published, parked=running.relay.parked)
