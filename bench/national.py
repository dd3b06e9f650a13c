"""Benchmark: the national year through the five services as deployed, stage by stage.

    uv run python bench/national.py --students 2000                   # one instance of each service
    uv run python bench/national.py --students 2000 --instances 2     # two (the drill's fleet, no chaos)

The local stack (embedded Tansu broker and PostgreSQL, the services as processes, each with its relay process
and two consumer processes as in deploy/k8s), the fake SYGNE in its own process serving a generated national
population (national_population.py), the fake ASP over SFTP with the drill's desk polling its answers. Stages,
each timed from when its input starts until its count is reached (they wait on progress: a count standing
still for --stuck seconds aborts the run, saying where the work stands):

1. import: `aplypro-students import-all --source sygne` and `import-ribs`, until pfmp knows every schooling and RIB;
2. DAs: until the documents service issued a décision d'attribution per student and pfmp learnt them;
3. pfmps: `aplypro-pfmp import-csv` (every establishment in one file) and `validate`, until all are validated;
4. amounts: from the validation's commit, until the calculator priced every PFMP and made its payment request;
5. files: from the validation's commit, until every request left in a payment file and the ASP answered it (paid);
6. états liquidatifs: from the validation's commit, until every student's schooling has one.

Then quiescence and the drill's checks (every period paid once, one DA per student, no request lost or
doubled, the cap, no dead letter). The last line: `national: students=N pfmps=P seconds=S import=…/s ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aplypro_local.drill import checks
from aplypro_local.drill.asp_desk import POLL_EVERY_S, AspDesk
from aplypro_local.drill.load import Load
from aplypro_local.drill.procs import Fleet
from aplypro_local.drill.run import (
    DrillAborted,
    _command,
    _wait,
    _where_work_stands,
    drill_env,
    wait_quiescent,
)
from aplypro_local.fake_asp.behaviour import Behaviour
from aplypro_local.fake_asp.in_thread import FakeAspInThread
from aplypro_local.fake_sygne.state import CLIENT_ID, SECRET
from aplypro_local.probes import Probe
from aplypro_local.stack import LocalStack
from national_cpu import CpuByProcess, StageCpu, cpu_per_student_line
from national_inbox import consumed, per_student_line
from national_population import YEAR, Population, generate, name_of, write_files
from students_import import free_port

# A progress read every 2 s: each is a connection and a count that scans its table, PostgreSQL work the bench
# would add to what it measures (at 0.5 s, ≈ 7 % of PostgreSQL's time in the files stretch at 10,000 students).
# A stage's time is then known to within 2 s; the shortest stage lasts tens of seconds.
POLL_S = 2.0


def sygne_state(population: Population) -> Any:
    """A FakeSygneState serving every establishment's list and each student's detail."""
    from aplypro_local.fake_sygne import FakeSygneState
    from aplypro_local.fake_sygne.sample import detail_of, list_entry

    state = FakeSygneState()
    for s in population.students:
        nom, prenom = name_of(s)
        entry = list_entry(s.ine, nom, prenom, s.birth.isoformat(), uai=s.uai, year=YEAR, classe=s.klass, mef=s.mef,
                           sexe=s.sexe)
        state.add_student(entry, detail=detail_of(entry, lines=("1 rue des Lilas",)))
    return state


def serve_population(students: int, establishments: int, seed: int, port: int, ready: Any) -> None:
    """Child process: the fake SYGNE serving the population regenerated from its seed, until terminated."""
    from aplypro_local.fake_sygne import serve

    with serve(sygne_state(generate(students, establishments, seed)), port=port) as server:
        ready.set()
        while server:
            time.sleep(3600)


async def set_sygne_provider(url: str, schema: str, uais: list[str]) -> None:
    """Every establishment's students come from SYGNE (one audited change, as `set-provider` makes one by one)."""
    from aplypro_servicekit.db import create_pool
    from aplypro_students.service_layer.providers import change_provider

    pool = await create_pool(url, schema, size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await change_provider(conn, uais, "sygne", by="national-bench")
    finally:
        await pool.close()


async def _count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql) or 0)
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0
    finally:
        await conn.close()


@dataclass
class Stage:
    name: str
    items: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


class Run:
    """One national run against a started stack: feeds each stage and waits on its progress."""

    def __init__(self, stack: LocalStack, probe: Probe, population: Population, stuck_s: float,
                 say: Callable[[str], None], cpu: CpuByProcess, render_nice: int) -> None:
        self.stack, self.probe, self.population, self.stuck_s, self.say = stack, probe, population, stuck_s, say
        self.url, self.prefix = stack.env["DATABASE_URL"], stack.schema_prefix
        self.diagnose = _where_work_stands(probe, self.url, self.prefix)
        self.stages: dict[str, Stage] = {}
        self.cpu, self.render_nice = cpu, render_nice
        self.cpu_stages: list[StageCpu] = []

    def cpu_mark(self, name: str) -> None:
        """Closes one stretch of the run for the CPU figures (stretches follow each other, unlike the stages)."""
        self.cpu_stages.append(stage := self.cpu.mark(name))
        self.say(stage.line())
        self.say(stage.pg_line())

    def figure(self, name: str) -> Callable[[], int]:
        return lambda: asyncio.run(self.probe.figures([name]))[name]

    def wait(self, what: str, progress: Callable[[], int], target: int) -> None:
        _wait(what, progress, target, self.stuck_s, cap_s=24 * 3600, say=self.say, diagnose=self.diagnose,
              poll_s=POLL_S)

    def stage(self, name: str, items: int, started: float) -> None:
        self.stages[name] = stage = Stage(name, items, time.monotonic() - started)
        self.say(f"stage {name}: {items} in {stage.seconds:.1f} s = {stage.rate:.1f}/s")

    def run(self, files: Any) -> None:
        n, p = len(self.population.students), len(self.population.pfmps)
        started = time.monotonic()
        self.cpu.mark("setup")
        _command(self.stack, self.say, "aplypro-students", "import-all", "--source", "sygne", "--school-year", str(YEAR))
        _command(self.stack, self.say, "aplypro-students", "import-ribs", str(files.ribs))
        self.wait("pfmp knows every schooling", self.figure("pfmp_schoolings"), n)
        self.wait("pfmp knows every RIB", self.figure("pfmp_ribs"), n)
        self.stage("import", n, started)
        self.cpu_mark("import")
        self.wait("documents issued every DA", self.figure("decisions"), n)
        self.stage("decisions", n, started)
        self.wait("pfmp learnt every DA", self.figure("pfmp_decisions"), n)
        self.cpu_mark("until pfmp knows every DA")
        recorded = time.monotonic()
        _command(self.stack, self.say, "aplypro-pfmp", "import-csv", str(files.pfmps))
        if (recorded_now := self.figure("pfmps")()) < p:  # a refused file records nothing: no use waiting
            raise DrillAborted(f"pfmp import-csv recorded {recorded_now} of {p} PFMPs (see its output above)")
        _command(self.stack, self.say, "aplypro-pfmp", "validate", "--user", "national-bench")
        validating = time.monotonic()  # one transaction: nothing reaches the others before it commits
        self.wait("every PFMP validated", self.figure("pfmps_validated"), p)
        self.stage("pfmps", p, recorded)
        self.cpu_mark("pfmps")
        self.wait("every PFMP priced", self.figure("amounts"), p)
        self.wait("every payment request made", self.figure("payment_requests"), p)
        self.stage("amounts", p, validating)
        self.cpu_mark("amounts")
        self.wait("every request in a payment file", self.figure("requests_sent"), p)
        self.wait("every request paid by the ASP", self.figure("requests_paid"), p)
        self.stage("files", p, validating)
        self.cpu_mark("files (after amounts)")
        liquidations = (f"SELECT count(DISTINCT schooling_id) FROM {self.prefix}documents.documents "
                        "WHERE kind = 'liquidation'")
        self.wait("every état liquidatif issued", lambda: asyncio.run(_count(self.url, liquidations)), n)
        self.stage("liquidations", n, validating)
        self.cpu_mark("liquidations (after files)")


def expected(population: Population, folder: Path) -> Load:
    """What the drill's checks compare with: every PFMP period paid once, one DA per student, no dead letter."""
    load = Load(folder, len(population.students))
    load.periods = {(p.ine, p.start, p.end) for p in population.pfmps}
    return load


def start_services(stack: LocalStack, instances: int, namespace: str) -> Fleet | None:
    if instances == 1:
        stack.start_all()
        return None
    fleet = Fleet(stack.env, stack.workdir / "logs", namespace)  # procs.INSTANCES (2) of each, no chaos
    fleet.start_all()
    return fleet


def main(args: argparse.Namespace, workdir: Path) -> int:
    t0, commit = time.monotonic(), commit_now()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - t0:6.0f} s] {line}", flush=True)

    population = generate(args.students, args.establishments, args.seed)
    n, p = len(population.students), len(population.pfmps)
    say(f"population: {n} students, {len(population.schools)} establishments, {len(population.classes)} classes, "
        f"{p} PFMPs (generated in {time.monotonic() - t0:.1f} s)")
    files = write_files(population, workdir / "load")
    namespace = f"national{uuid.uuid4().hex[:6]}."
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    fake = context.Process(target=serve_population, daemon=True,
                           args=(args.students, len(population.schools), args.seed, port, ready))
    fake.start()
    # The ASP takes 100,000 records a week (features.md §5), and the gateway holds the rest for the next
    # week: past 100,000 PFMPs the payment files would never all leave within a run. The bench measures our
    # side, so both the fake and the gateway get a week's quota that fits the run (`--asp-week-quota`).
    quota = args.asp_week_quota or max(100_000, 2 * len(population.pfmps))
    asp = FakeAspInThread(workdir / "fake-asp", Behaviour(remove_taken=False, max_records_per_week=quota))
    root = f"http://127.0.0.1:{port}/"
    stack = LocalStack(workdir, extra_env={
        **drill_env(namespace), "APLYPRO_LOG_JSON": "false", "APLYPRO_LOG_LEVEL": "WARNING", **asp.start(),
        "APLYPRO_SYGNE_BASE_URL": f"{root}api/", "APLYPRO_SYGNE_TOKEN_URL": f"{root}token",
        "APLYPRO_SYGNE_CLIENT_ID": CLIENT_ID, "APLYPRO_SYGNE_SECRET": SECRET,
        "APLYPRO_SYGNE_SUMMER_FREEZE": "false", "APLYPRO_ASP_MAX_RECORDS_PER_WEEK": str(quota),
        # The gateway polls the ASP's answers itself, as deployed; a `poll` process every 5 s cost 0.1 core.
        "APLYPRO_ASP_POLL_INTERVAL_S": str(POLL_EVERY_S),
        # Documents are not part of the 15-minute goal and have pods of their own in production; here rendering
        # shares the 2 cores, so by default it takes what the rest leaves (the DAs' issue, which payments wait
        # for, keeps its priority).
        "APLYPRO_DOCUMENTS_RENDER_NICE": str(args.render_nice),
        # SYGNE's rate limit is its own, like the ASP's quota: the bench measures our side, so the detail lane
        # (addresses, birthplaces: the DAs and the payment files wait for them) goes at --sygne-detail-rate.
        "APLYPRO_STUDENTS_SYGNE_DETAILS_RATE": str(args.sygne_detail_rate),
        "APLYPRO_STUDENTS_SYGNE_DETAILS_CONCURRENCY": "32", "APLYPRO_STUDENTS_SYGNE_DETAILS_BATCH": "200"})
    fleet: Fleet | None = None
    desk: AspDesk | None = None
    cpu: CpuByProcess | None = None
    try:
        stack.start_servers()
        say(f"broker {stack.env['KAFKA_BOOTSTRAP_SERVERS']}, namespace {namespace}, {args.instances} instance(s)")
        probe = Probe(stack.env["DATABASE_URL"], stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.schema_prefix, namespace)
        _command(stack, say, "aplypro-students", "load-establishments", str(files.establishments))
        _command(stack, say, "aplypro-students", "load-mefs", str(files.mefs), "--school-year", str(YEAR))
        asyncio.run(set_sygne_provider(stack.env["DATABASE_URL"], f"{stack.schema_prefix}students",
                                       [s.uai for s in population.schools]))
        if not ready.wait(1800):
            raise DrillAborted("the fake SYGNE did not start")
        fleet = start_services(stack, args.instances, namespace)
        cpu = CpuByProcess(workdir / "pgdata", database_url=stack.env["DATABASE_URL"], schema_prefix=stack.schema_prefix)
        cpu.start()
        desk = AspDesk(asp, stack.env, poll_command=False)
        desk.start()
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        run = Run(stack, probe, population, args.stuck, say, cpu, args.render_nice)
        run.run(files)
        seconds = time.monotonic() - started
        load_after = os.getloadavg()[0]
        quiet = wait_quiescent(probe, stack.env["DATABASE_URL"], stack.schema_prefix, timeout=1800, settle_s=10,
                               stuck_s=args.stuck, say=say)
        desk.stop()
        consumed_line = per_student_line(asyncio.run(consumed(stack.env["DATABASE_URL"], stack.schema_prefix)), n)
        findings, stale = asyncio.run(checks.run_checks(expected(population, workdir), stack.env["DATABASE_URL"],
                                                        stack.env["KAFKA_BOOTSTRAP_SERVERS"], namespace,
                                                        stack.schema_prefix, asp.upload_dir))
    except DrillAborted as exc:
        say(f"national aborted ({exc.code}): {exc}")
        return 2
    finally:
        if cpu is not None:
            cpu.stop()
        if desk is not None and desk.is_alive():
            desk.stop()
        if fleet is not None:
            fleet.kill_all()
        stack.stop()
        asp.stop()
        fake.terminate()
        fake.join(10)
    print(consumed_line)
    return report(args, run, commit, findings, stale, quiet, seconds, (load_before, load_after), n, p)


def commit_now() -> str:
    """The code's commit when the run starts (the files may change while it runs)."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,  # noqa: S607 - the PATH git
                          check=False).stdout.strip()


def report(args: argparse.Namespace, run: Run, commit: str, findings: list[checks.Finding], stale: str, quiet: bool,
           seconds: float, load: tuple[float, float], n: int, p: int) -> int:
    for f in findings:
        print(f"check {f.name}: {'ok' if f.ok else 'FAILED'}: {f.detail}")
    lost, duplicated = sum(f.lost for f in findings), sum(f.duplicated for f in findings)
    failed = [f.name for f in findings if not f.ok] + ([] if quiet else ["quiescence"])
    print(f"stale events dropped: {stale}; lost={lost} duplicated={duplicated}"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    s = run.stages
    documents = Stage("documents", s["decisions"].items + s["liquidations"].items,
                      s["decisions"].seconds + s["liquidations"].seconds)
    print(f"instances={args.instances} establishments={len(run.population.schools)} commit={commit} "
          f"at={datetime.now(UTC):%Y-%m-%d %H:%M} UTC loadavg_before={load[0]:.2f} loadavg_after={load[1]:.2f} "
          f"cpus={os.cpu_count()}")
    for stretch in run.cpu_stages:
        print(stretch.line())
    for stretch in run.cpu_stages:
        print(stretch.pg_line())
    print(cpu_per_student_line(run.cpu_stages, n))
    print(f"render_nice={run.render_nice} sygne_detail_rate={args.sygne_detail_rate:g}/s")
    print(f"decisions={s['decisions'].rate:.1f}/s liquidations={s['liquidations'].rate:.1f}/s "
          f"extrapolated_650k_s: " + " ".join(f"{name}={650_000 * stage.items / n / stage.rate:.0f}"
                                              for name, stage in s.items() if stage.rate))
    print(f"national: students={n} pfmps={p} seconds={seconds:.0f} import={s['import'].rate:.1f}/s "
          f"pfmps={s['pfmps'].rate:.1f}/s amounts={s['amounts'].rate:.1f}/s files={s['files'].rate:.1f}/s "
          f"documents={documents.rate:.1f}/s")
    return 0 if not failed and not lost and not duplicated else 1


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # SIGTERM: through main's `finally`, so no server or service is left behind


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=650_000)
    parser.add_argument("--establishments", type=int, help="default: students / 225 (≈ 2,900 at 650,000)")
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1, help="instances of each service")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--stuck", type=float, default=300, help="abort when a count stood still this long (s)")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here instead of a temporary folder")
    parser.add_argument("--render-nice", type=int, default=19, choices=range(20), metavar="0..19",
                        help="niceness of the documents' render workers (APLYPRO_DOCUMENTS_RENDER_NICE; default 19: "
                             "rendering takes the CPU the rest leaves, as on pods of its own; 0: it competes with the "
                             "payment pipeline for the 2 cores)")
    parser.add_argument("--sygne-detail-rate", type=float, default=5000.0,
                        help="SYGNE detail calls a second at most (the service's default is 200: 650,000 details "
                             "then take 54 minutes, which DAs and payments wait for; default here 5,000, 32 calls in "
                             "flight and 200 rows a transaction, as bench/students_import.py)")
    parser.add_argument("--asp-week-quota", type=int,
                        help="records the ASP takes a week (the ASP's own: 100,000; default: twice the PFMPs, at "
                             "least 100,000, so every file leaves within the run)")
    arguments = parser.parse_args()
    if arguments.workdir:
        raise SystemExit(main(arguments, arguments.workdir.resolve()))
    with tempfile.TemporaryDirectory(prefix="aplynational-") as tmp:
        raise SystemExit(main(arguments, Path(tmp)))
