"""Benchmark: a generated national import from the fake SYGNE over real HTTP, through the students service,
out as events on the broker.

    uv run python bench/students_import.py --students 20000 --establishments 90
    uv run python bench/students_import.py --students 20000 --establishments 90 --profile /tmp/import.prof
    uv run python bench/students_import.py --students 20000 --establishments 90 --py-spy /tmp/import.txt

N students spread over M establishments (default 650,000 over 2,900, imports.md §9). The fake SYGNE serves
them from its own process; `aplypro-students import-all --source sygne` (a subprocess, as an operator or the
nightly job runs it) imports every establishment: the list, reconciliation, outbox, and the detail of each
student first seen (§5.7) queued for the service's detail lane. Three phases, each timed on its own:

(a) the import: from the start of import-all until the outbox is empty (`aplypro-students run` relays it to
    the embedded broker; its detail lane is off during this phase, so the import's own events are timed);
(b) the detail backfill: the service restarted with its lane on, until the queue and the outbox are empty;
(c) the same import again (a night where nothing changed: list calls only, nothing queued, no event).

CPU seconds of each process (import-all, the service, the fake SYGNE, PostgreSQL's live processes) are read
from /proc and given per student: on a shared machine wall time mostly measures the wait for a core.
Yardstick in the same run: the fake server's own serving rate, the same list and detail calls made by a bare
httpx client at the same concurrency, nothing done with the answers (students/s served).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx2

ROOT = Path(__file__).resolve().parent.parent
MEFS = ROOT / "services" / "students" / "tests" / "data" / "mefs.csv"
CLASSES = [("TLE PRO MELEC", "24731211331"), ("1ERE PRO MELEC", "24731211321")]
YEAR = 2025


def uai_of(n: int) -> str:
    return f"{9100000 + n:07d}{'ABCDEFGHJKLMNPRSTUVWXYZ'[n % 23]}"


def generated_state(students: int, establishments: int) -> Any:
    """A FakeSygneState: each establishment's list, and a detail for every student (first seen: §5.7)."""
    from aplypro_local.fake_sygne import FakeSygneState
    from aplypro_local.fake_sygne.sample import detail_of, list_entry

    state = FakeSygneState()
    for n in range(students):
        uai = uai_of(n % establishments)
        label, mef = CLASSES[n % 2]
        entry = list_entry(f"{300000000 + n:09d}AB", f"NOM{n}", "Prenom", f"200{7 + n % 2}-0{1 + n % 9}-1{n % 10}",
                           uai=uai, year=YEAR, classe=f"{label} {n % 3}", mef=mef, sexe="12"[n % 2])
        state.add_student(entry, detail=detail_of(entry, lines=(f"{n % 90 + 1} rue des Lilas",)))
    return state


def serve_fake(students: int, establishments: int, port: int, ready: Any) -> None:
    """Child process: the fake SYGNE with the generated state, until terminated."""
    from aplypro_local.fake_sygne import serve

    with serve(generated_state(students, establishments), port=port) as server:
        ready.set()
        while True:
            time.sleep(3600)
            assert server


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux /proc): CPU per student holds under a loaded machine, where
    wall time mostly measures the wait for a core."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # children that ended and were waited for
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def yardstick(root: str, establishments: int, concurrency: int, sample: int | None = None) -> tuple[int, float]:
    """(students served, seconds): every list, then every student's detail (the first `sample` only, when
    given: a national run's 650,000 details would take the fake half an hour), `concurrency` calls at a time."""
    from aplypro_local.fake_sygne.state import CLIENT_ID, SECRET

    limiter = asyncio.Semaphore(concurrency)
    async with httpx2.AsyncClient(base_url=root, timeout=60) as http:
        token = (await http.post("token", data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                "client_secret": SECRET})).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        ines: list[str] = []

        async def get(path: str, params: dict[str, str] | None = None) -> Any:
            async with limiter:
                for attempt in range(3):  # uvicorn closes a kept-alive connection idle 5 s: on a loaded machine
                    try:
                        response = await http.get(path, params=params, headers=headers)
                        break
                    except httpx2.RemoteProtocolError:
                        if attempt == 2:
                            raise
                response.raise_for_status()
                return response.json()

        lists = await asyncio.gather(*(get(f"api/etablissements/{uai_of(e)}/eleves",
                                           {"annee-scolaire": str(YEAR), "statut": "ST"})
                                       for e in range(establishments)))
        ines = [s["ine"] for one in lists for s in one][:sample]
        await asyncio.gather(*(get(f"api/eleves/{ine}") for ine in ines))
        return len(ines), time.perf_counter() - started


async def setup(url: str, schema: str, establishments: int) -> None:
    """Migrations, the generated establishments (provider sygne) and the MEF list, in this process."""
    from aplypro_servicekit.db import create_pool, migrate
    from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv
    from aplypro_students.domain.reference import Establishment
    from aplypro_students.service_layer.providers import change_provider
    from aplypro_students.service_layer.reference import load_establishments, load_mefs

    pool = await create_pool(url, schema, size=2)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_students"])
    uais = [uai_of(e) for e in range(establishments)]
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, [Establishment(uai=u, name=f"LP {u}", academy_code="14") for u in uais])
        await load_mefs(conn, YEAR, read_bcn_mefs_csv(MEFS))
        await change_provider(conn, uais, "sygne", by="bench")
    await pool.close()


async def outbox_left(url: str, schema: str) -> int:
    return await count(url, f"{schema}.outbox")


async def count(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a live process and its live children (PostgreSQL's backends, a service's relay child): a
    child that ended before the reading is not counted."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        return 0.0
    return total


def machine_cpu_seconds() -> float:
    """Every process of the machine (other engineers' work included): the upper bound."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(fields) if i not in (3, 4))  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


class Cpu:
    """CPU seconds spent by each process of interest between `start()` and `stop()`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        return now | {"import-all": children_cpu_seconds(), "machine": machine_cpu_seconds()}

    def start(self) -> Cpu:
        self.before = self._now()
        return self

    def stop(self) -> dict[str, float]:
        after = self._now()
        self.spent = {k: after[k] - self.before.get(k, 0.0) for k in after}
        return self.spent

    def per(self, n: int) -> str:
        return " ".join(f"{k}={v * 1000 / max(n, 1):.2f}" for k, v in self.spent.items())


async def backfill(url: str, schema: str, queued: int, max_s: float | None) -> tuple[float, float, int]:
    """(seconds until the queue and the outbox are empty, seconds from the first detail applied, details
    applied): after `max_s` seconds, what was applied by then."""
    started = time.perf_counter()
    first: float | None = None
    while True:
        left = await count(url, f"{schema}.sygne_detail_queue")
        if first is None and left < queued:
            first = time.perf_counter()
        now = time.perf_counter()
        if (not left and not await outbox_left(url, schema)) or (max_s is not None and now - started > max_s):
            return now - started, now - (first or started), queued - left
        await asyncio.sleep(0.2)


async def import_all(env: dict[str, str], url: str, schema: str, profile: Path | None,
                     py_spy: Path | None = None) -> tuple[float, dict[str, Any]]:
    """Seconds from the start of import-all until the relay has published every event, and its summary.

    `profile`: under cProfile (exact counts, inflated call costs); `py_spy`: sampled by py-spy (`py-spy` on
    PATH, e.g. `uv tool install py-spy`), collapsed stacks, idle time included, so waits show."""
    python = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
    if py_spy:
        python = ["py-spy", "record", "--idle", "--format", "raw", "--rate", "50", "-o", str(py_spy), "--",
                  sys.executable]
    command = [*python, "-m", "aplypro_students", "import-all", "--source", "sygne", "--school-year", str(YEAR)]
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.DEVNULL)
    output, _ = await process.communicate()
    imported = time.perf_counter() - started
    while await outbox_left(url, schema):
        await asyncio.sleep(0.05)
    # the summary is the last JSON line (py-spy prints its own lines after it)
    summary: dict[str, Any] = json.loads([ln for ln in output.decode().splitlines() if ln.startswith("{")][-1])
    summary["import_s"] = round(imported, 2)
    return time.perf_counter() - started, summary


async def main(args: argparse.Namespace, workdir: Path) -> None:
    from aplypro_local.stack import LocalStack

    namespace = f"bench{uuid.uuid4().hex[:6]}."
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    fake = context.Process(target=serve_fake, args=(args.students, args.establishments, port, ready), daemon=True)
    fake.start()
    stack = LocalStack(workdir, extra_env={"APLYPRO_TOPIC_NAMESPACE": namespace})
    try:
        stack.start_servers()
        root = f"http://127.0.0.1:{port}/"
        env = {**stack.env, "APLYPRO_SYGNE_BASE_URL": f"{root}api/", "APLYPRO_SYGNE_TOKEN_URL": f"{root}token",
               "APLYPRO_SYGNE_CLIENT_ID": "aplypro", "APLYPRO_SYGNE_SECRET": "fake-sygne-secret",
               "APLYPRO_SYGNE_SUMMER_FREEZE": "false", "APLYPRO_STUDENTS_IMPORT_CONCURRENCY": str(args.establishment_concurrency),
               "APLYPRO_SYGNE_CONCURRENCY": str(args.concurrency), "APLYPRO_LOG_LEVEL": "WARNING"}
        lane = {"APLYPRO_STUDENTS_SYGNE_DETAILS_RATE": str(args.details_rate),
                "APLYPRO_STUDENTS_SYGNE_DETAILS_CONCURRENCY": str(args.details_concurrency),
                "APLYPRO_STUDENTS_SYGNE_DETAILS_BATCH": str(args.details_batch)}
        if args.workers:
            env["APLYPRO_STUDENTS_IMPORT_WORKERS"] = str(args.workers)
        stack.env = {**env, "APLYPRO_STUDENTS_SYGNE_DETAILS_LANE": "false"}  # (a) times the import alone
        url, schema = env["DATABASE_URL"], f"{stack.schema_prefix}students"
        if not ready.wait(600):
            raise RuntimeError("the fake SYGNE did not start")
        await setup(url, schema, args.establishments)
        service = stack.start_service("students")  # relays the outbox to the broker
        served, served_s = await yardstick(root, args.establishments, args.concurrency * args.establishment_concurrency,
                                           args.yardstick_details)
        pid_file = workdir / "pgdata" / "postmaster.pid"  # the embedded PostgreSQL's postmaster
        postgres_pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else 0
        pids = {"service": service.pid, "fake_sygne": fake.pid or 0, **({"postgres": postgres_pid} if postgres_pid else {})}
        load_before = os.getloadavg()
        cpu_a = Cpu(pids).start()
        cold_s, cold = await import_all(stack.env, url, schema, args.profile, args.py_spy)
        cpu_a.stop()
        queued = await count(url, f"{schema}.sygne_detail_queue")
        load_mid = os.getloadavg()
        stack.stop_service("students")
        stack.env = {**env, **lane}  # (b) the detail lane on
        service = stack.start_service("students")
        cpu_b = Cpu({**pids, "service": service.pid}).start()
        backfill_s, applying_s, applied = await backfill(url, schema, queued, args.backfill_max_s)
        cpu_b.stop()
        warm_s, warm = (await import_all(stack.env, url, schema, None)) if not args.no_unchanged else (0.0, {})
        load_after = os.getloadavg()
        rate, raw = args.students / cold_s, served / served_s
        print(f"students={args.students} establishments={args.establishments} workers={args.workers or 'default'} "
              f"at={datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(f"(a) import_s={cold_s:.1f} (import-all {cold['import_s']} s, then relay) events={cold['events']} "
              f"students_imported={cold['students']} details_queued={cold.get('details_queued')} "
              f"failed={len(cold['failed'])}")
        print(f"(a) students_per_s={rate:.0f} fake_sygne_serving_per_s={raw:.0f} ratio={rate / raw:.2f}")
        print(f"(a) cpu_ms_per_student {cpu_a.per(args.students)}")
        print(f"(b) backfill_s={backfill_s:.1f} (from the service's start; {applying_s:.1f} s from the first "
              f"detail applied) details={queued} applied={applied} details_per_s={applied / max(applying_s, 1e-9):.0f} "
              f"rate_limit={args.details_rate}/s")
        print(f"(b) cpu_ms_per_detail {cpu_b.per(applied)}")
        details_rate = applied / max(applying_s, 1e-9)
        if warm:
            print(f"(c) unchanged_reimport_s={warm_s:.1f} events={warm['events']} details_queued="
                  f"{warm.get('details_queued')} students_per_s={args.students / warm_s:.0f}")
        print(f"extrapolated_650k import_s={650_000 / rate:.0f} backfill_s={650_000 / max(details_rate, 1e-9):.0f}"
              + (f" unchanged_s={650_000 / (args.students / warm_s):.0f}" if warm else ""))
        print(f"loadavg before={load_before[0]:.2f} after_import={load_mid[0]:.2f} after={load_after[0]:.2f} "
              f"cpus={os.cpu_count()}")
    finally:
        stack.stop()
        fake.terminate()
        fake.join(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=650_000)
    parser.add_argument("--establishments", type=int, default=2_900)
    parser.add_argument("--concurrency", type=int, default=8, help="detail calls in flight per establishment")
    parser.add_argument("--establishment-concurrency", type=int, default=4, help="establishments at once")
    parser.add_argument("--workers", type=int, default=0, help="import-all worker processes (0: the setting's default)")
    parser.add_argument("--details-rate", type=float, default=5000.0, help="the detail lane's rate limit, a second")
    parser.add_argument("--details-concurrency", type=int, default=32, help="the detail lane's calls in flight")
    parser.add_argument("--details-batch", type=int, default=200, help="the detail lane's rows per transaction")
    parser.add_argument("--yardstick-details", type=int, help="details the yardstick fetches (default: all)")
    parser.add_argument("--backfill-max-s", type=float, help="stop timing the backfill after this many seconds")
    parser.add_argument("--no-unchanged", action="store_true", help="skip (c), the unchanged re-import")
    parser.add_argument("--profile", type=Path, help="cProfile the first import-all into this file")
    parser.add_argument("--py-spy", type=Path, help="sample the first import-all with py-spy into this file")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here instead of a temporary folder")
    arguments = parser.parse_args()
    if arguments.workdir:
        asyncio.run(main(arguments, arguments.workdir.resolve()))
    else:
        with tempfile.TemporaryDirectory(prefix="aplybench-") as tmp:
            asyncio.run(main(arguments, Path(tmp)))
