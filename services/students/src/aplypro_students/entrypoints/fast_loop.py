"""Runs the API imports (import-sygne, import-fregata, import-all) on uvloop when it is installed.

A first national import makes one HTTP call per student; on asyncio's own loop, its scheduling and socket
callbacks cost about a third of the client's CPU (bench/students_import.py, docs/benchmarks.md). uvloop keeps
the same semantics; without it, the standard loop runs the same code."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # an optional speed-up: the standard loop is correct too
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)
