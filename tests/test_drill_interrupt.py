"""A drill stopped by SIGTERM leaves no process behind.

`uv run aplypro drill` stopped with `kill -- -PGID` gets SIGTERM twice: once from the group kill, once
forwarded by uv. The second signal used to land in the drill's cleanup and cut it short, leaving the
whole fleet (66 processes one night) consuming, rendering and retrying against a stopped database.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aplypro_local.drill.procs import processes_of

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

NAMESPACE = re.compile(r"namespace (drill[0-9a-f]+\.)")


def _lines_until(process: subprocess.Popen[str], marker: str, within_s: float) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} within {within_s:.0f} s: " + "\n".join(lines[-20:]))


def _left(namespace: str, grace_s: float) -> list[int]:
    deadline = time.monotonic() + grace_s
    while (left := processes_of(namespace)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


@pytest.mark.timeout(420)
def test_sigterm_twice_stops_the_drill_and_every_process_it_started(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "aplypro"
    drill = subprocess.Popen(
        [str(script), "drill", "--students", "20", "--minutes", "5", "--workdir", str(tmp_path / "drill")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    namespace = ""
    try:
        lines = _lines_until(drill, "namespace", 120)
        match = NAMESPACE.search(lines[-1])
        assert match, lines[-1]
        namespace = match.group(1)
        _lines_until(drill, "started 2 instances", 240)
        time.sleep(3)  # the instances are up and spawning their children
        assert len(processes_of(namespace)) >= 10
        for _ in range(6):  # the group kill, then what a wrapper forwards, landing during the cleanup
            os.kill(drill.pid, signal.SIGTERM)
            time.sleep(0.3)
        drill.wait(timeout=180)
    finally:
        if drill.poll() is None:
            drill.kill()
            drill.wait()
        assert drill.stdout is not None
        drill.stdout.close()
    assert _left(namespace, 10) == [], "the drill left processes of its fleet running"
