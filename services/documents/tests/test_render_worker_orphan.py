"""A render worker ends with its service process: a SIGKILLed documents process (the drill's chaos, the
OOM killer) used to leave its spawned workers waiting on their queues for ever, each holding its memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVICE = """
import os, time
from aplypro_documents.rendering.pool import worker_pool
pool = worker_pool(1)
print(pool.submit(os.getpid).result(), flush=True)  # the worker is up and warmed
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Running, not a zombie (an ended orphan may wait to be reaped by a subreaper that never does)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_a_render_worker_ends_when_its_service_process_is_killed() -> None:
    with subprocess.Popen([sys.executable, "-c", SERVICE], stdout=subprocess.PIPE, text=True) as service:
        assert service.stdout is not None
        worker = int(service.stdout.readline())
        service.kill()
    deadline = time.monotonic() + 20
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(worker):
        os.kill(worker, signal.SIGKILL)  # leave nothing behind, then fail
        raise AssertionError("the render worker outlived its killed service process")
