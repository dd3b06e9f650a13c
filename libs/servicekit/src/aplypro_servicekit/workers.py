"""Extra consumer processes of one service instance: the consumers use more than one core.

Every worker joins the same consumer groups, so Kafka spreads the partitions over them; only the main
process runs the relay and the background tasks. A worker whose parent disappears (killed outright)
stops by itself, leaving its group so the partitions move on.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from .gc_tuning import tune_gc
from .logs import configure_logging
from .settings import ServiceSettings
from .tracing import configure_tracing, flush

# Builds the service's spec from its settings; a module-level function, so a spawned worker can import it.
SpecFactory = Callable[[Any], Any]


def start_worker(factory: SpecFactory, settings: ServiceSettings, index: int) -> BaseProcess:
    # spawn, not fork: the parent's event loop, sockets and threads must not leak into the child.
    process = multiprocessing.get_context("spawn").Process(
        target=_main, args=(factory, settings, index, os.getpid()), name=f"worker-{index}", daemon=False)
    process.start()
    return process


def _main(factory: SpecFactory, settings: ServiceSettings, index: int, parent_pid: int) -> None:
    from .runtime import ServiceRuntime  # here: the runtime imports this module

    tune_gc()
    spec = factory(settings)
    configure_logging(f"{spec.name}-worker-{index}", settings.log_level, settings.log_json)
    configure_tracing(spec.name, settings.otel_enabled)
    runtime = ServiceRuntime(spec, settings, worker=index)
    try:
        asyncio.run(runtime.run_until_signalled(parent_pid=parent_pid))
    finally:
        flush()  # a multiprocessing child exits without running atexit hooks
