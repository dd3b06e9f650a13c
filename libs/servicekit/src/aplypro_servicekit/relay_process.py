"""The outbox relay in a process of its own, so publishing runs on another core than the consumers.

The parent (the service) starts it, restarts it if it dies, and stops it with SIGTERM; the relay then
publishes what is left and exits. If the parent is killed outright, the relay notices (its parent
changes) and stops too, releasing the relay lock for the next instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from multiprocessing.process import BaseProcess

import structlog

from .db import create_pool
from .gc_tuning import tune_gc
from .kafka import make_producer
from .logs import configure_logging
from .relay import OutboxRelay
from .settings import ServiceSettings
from .supervision import keep_running, watch_parent

log = structlog.get_logger(__name__)

DRAIN_SECONDS = 10.0


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
    asyncio.run(_run(settings, schema, parent_pid))


async def _run(settings: ServiceSettings, schema: str, parent_pid: int) -> None:
    pool = await create_pool(settings.database_url, schema, size=3)
    producer = make_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    relay = OutboxRelay(pool, producer, schema, batch_size=settings.relay_batch_size)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(keep_running(relay.run, "relay")),
             asyncio.create_task(watch_parent(parent_pid, stop))]
    log.info("relay_started", schema=schema)
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await relay.drain(DRAIN_SECONDS)
        await producer.stop()
        await pool.close()
        log.info("relay_stopped", published=relay.published)
