"""Render functions for the render-worker crash tests, importable by spawned workers.

Not a test module: test_render_worker_crash.py puts this folder on sys.path before its pool spawns, so a
worker unpickles these functions by reference. They return stand-in bytes instead of PDFs: what is
under test is the pool and the issuer, not weasyprint.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

KILLER = "Fatale"  # a payload holding this name kills its worker (a stand-in for a segfault in a C library)
STALL_DIR = "APLYPRO_TEST_RENDER_DIR"  # where stalling_render finds its one-shot `armed` file


def fake_pdfs(payloads: list[dict[str, Any]]) -> list[bytes]:
    return [b"%PDF-1.7 stand-in " + json.dumps(payload, sort_keys=True).encode()[:64] for payload in payloads]


def exiting_render(payloads: list[dict[str, Any]]) -> list[bytes]:
    """Ends the worker process at once, without cleanup, when the batch holds the killer payload."""
    if any(KILLER in json.dumps(payload) for payload in payloads):
        os._exit(1)
    return fake_pdfs(payloads)


def stalling_render(payloads: list[dict[str, Any]]) -> list[bytes]:
    """The first call after the test arms it writes its worker's pid and stalls, to be killed mid-batch."""
    folder = Path(os.environ[STALL_DIR])
    try:
        (folder / "armed").rename(folder / "taken")  # atomic: exactly one call stalls
    except FileNotFoundError:
        return fake_pdfs(payloads)
    (folder / "pid").write_text(str(os.getpid()))
    time.sleep(60)  # the test kills this process long before
    return fake_pdfs(payloads)


def failing_start() -> None:
    """A pool initializer that fails (say the fonts are missing): each worker dies before any render."""
    raise RuntimeError("the worker cannot start")


def killed_then_killed_at_start(payloads: list[dict[str, Any]]) -> list[bytes]:
    """The first call (one-shot `armed` file) arms a death of the next worker at its start, then ends its
    own worker: an outside kill, then a second one that lands while the replacement worker starts."""
    folder = Path(os.environ[STALL_DIR])
    try:
        (folder / "armed").rename(folder / "taken")
    except FileNotFoundError:
        return fake_pdfs(payloads)
    (folder / "die_at_start").touch()
    os._exit(1)


def dying_once_at_start() -> None:
    """A pool initializer: the worker started while `die_at_start` exists dies (once)."""
    try:
        (Path(os.environ[STALL_DIR]) / "die_at_start").rename(Path(os.environ[STALL_DIR]) / "died_at_start")
    except FileNotFoundError:
        return
    os._exit(1)


def slow_innocent_or_killer(payloads: list[dict[str, Any]]) -> list[bytes]:
    """A killer payload ends its worker after a moment; any other batch takes a while, so that another
    lane's killed worker breaks the pool under it (a shared break, not its doing)."""
    if any(KILLER in json.dumps(payload) for payload in payloads):
        time.sleep(0.3)
        os._exit(1)
    time.sleep(1.5)
    return fake_pdfs(payloads)
