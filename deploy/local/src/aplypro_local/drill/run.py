"""`aplypro drill`: the whole pipeline under load and chaos, then the verdict.

Two instances of every service, each with its relay in a child process (the other instance's relay is
the standby: one leader per schema by advisory lock) and two consumer processes; the load of `load.py`
fed while `chaos.py` kills processes and makes rolling restarts; then quiescence and `checks.py`.
The last line says `drill: N students, K kills, L lost, D duplicated`; exit 0 only when all holds.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg

from aplypro_local.fake_asp.in_thread import FakeAspInThread
from aplypro_local.probes import Probe
from aplypro_local.school import UAI
from aplypro_local.stack import SERVICES, LocalStack
from aplypro_local.testing import produce

from . import checks
from .asp_desk import POLL_EVERY_S, AspDesk
from .chaos import Chaos
from .lag import lag_by_group, total_lag
from .load import Load, bad_messages, generate
from .procs import Fleet
from .rectify import paid_or_rectified, rectify_paid

Say = Callable[[str], None]


BREATHE_S = 30.0  # a setup count standing still this long pauses the chaos until it moves


class DrillAborted(RuntimeError):
    """A setup step failed (an import refused, the pipeline never started): no verdict can be given."""

    code = "drill_aborted"


def drill_env(namespace: str) -> dict[str, str]:
    return {"APLYPRO_TOPIC_NAMESPACE": namespace, "APLYPRO_RELAY_PROCESS": "true",
            "APLYPRO_CONSUMER_PROCESSES": "2", "APLYPRO_SESSION_TIMEOUT_MS": "6000",
            "APLYPRO_TOPIC_PARTITIONS": "4", "APLYPRO_LOG_JSON": "true"}


def _command(stack: LocalStack, say: Say, *args: str, timeout: float = 1800) -> str:
    """A service command against the stack (LocalStack.run_command's 300 s are too few at 20,000 students)."""
    script = Path(sys.executable).parent / args[0]
    try:
        result = subprocess.run([str(script), *args[1:]], env=stack.env, capture_output=True, text=True, check=False,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DrillAborted(f"`{' '.join(args[:2])}` took more than {timeout:.0f} s") from None
    say(f"$ {' '.join(a if '/' not in a else Path(a).name for a in args)} -> exit {result.returncode}: "
        f"{result.stdout.strip().splitlines()[-1][:160] if result.stdout.strip() else ''}")
    if result.returncode not in (0, 2):  # 2: some lines refused (reported), the rest imported
        raise DrillAborted(f"`{' '.join(args[:2])}` failed: {result.stderr[-1500:]}")
    return result.stdout


# Work still queued: every outbox, the documents render queue, the gateway's unsent requests still to check.
PENDING = [*(f"SELECT count(*) FROM {{p}}{s.replace('-', '_')}.outbox" for s in SERVICES),
           # rows past their attempts (3 by default) were dead-lettered: no longer work to wait for
           "SELECT count(*) FROM {p}documents.render_queue WHERE attempts < 3",
           # documents issued and not rendered yet (issue, then render); those given up were dead-lettered
           "SELECT count(*) FROM {p}documents.documents WHERE sha256 IS NULL AND render_given_up_at IS NULL",
           # a blocked request flagged for a new check (its data changed) is work too, and one waiting for the
           # ASP to integrate an earlier request of its student, and every request the ASP has not answered yet
           "SELECT count(*) FROM {p}asp_gateway.payment_requests WHERE (state = 'pending' "
           "AND (blocking_reasons = '{{}}' OR recheck OR 'awaiting_asp_integration' = ANY(blocking_reasons))) "
           "OR state IN ('ready', 'sent', 'integrated')"]


async def _pending(database_url: str, prefix: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        total = 0
        for sql in PENDING:
            try:
                total += int(await conn.fetchval(sql.format(p=prefix)))
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                pass
        return total
    finally:
        await conn.close()


def _wait(what: str, progress: Callable[[], int], target: int, stuck_s: float, cap_s: float, say: Say,
          diagnose: Callable[[], str], chaos: Chaos | None = None, breathe_s: float = BREATHE_S,
          poll_s: float = 0.5) -> None:
    """Until `progress()` reaches `target`. A slow machine may take long as long as the count moves. When it
    stood still for `breathe_s`, the chaos pauses until it moves again (kills faster than a starved machine
    recovers prove nothing; the pause is reported); the drill aborts when it stood still for `stuck_s` (a
    stalled pipeline) or after `cap_s`, saying where the work stands. `progress()` is read every `poll_s`."""
    started = moved = time.monotonic()
    last = progress()
    try:
        while last < target:
            now = time.monotonic()
            if now - moved > stuck_s or now - started > cap_s:
                still = f"no progress for {now - moved:.0f} s" if now - moved > stuck_s else f"{cap_s:.0f} s"
                raise DrillAborted(f"timed out waiting for {what} ({last}/{target}, {still}): {diagnose()}")
            if chaos is not None and now - moved > breathe_s and chaos.pause():
                say(f"  chaos paused: {what} made no progress for {breathe_s:.0f} s ({last}/{target})")
            time.sleep(poll_s)
            current = progress()
            if current != last:
                last, moved = current, time.monotonic()
                if chaos is not None:
                    chaos.resume()
    finally:
        if chaos is not None:
            chaos.resume()
    say(f"{what}: done")


def _where_work_stands(probe: Probe, database_url: str, prefix: str) -> Callable[[], str]:
    def diagnose() -> str:
        figures = asyncio.run(probe.figures())
        figures["pending"] = asyncio.run(_pending(database_url, prefix))
        lags = asyncio.run(lag_by_group(probe.bootstrap, probe.topic_namespace))
        return (", ".join(f"{k}={v}" for k, v in figures.items()) + "; consumer lag: "
                + ", ".join(f"{group}={lag}" for group, lag in lags.items()))
    return diagnose


def wait_quiescent(probe: Probe, database_url: str, prefix: str, timeout: float, settle_s: float, stuck_s: float,
                   say: Say) -> bool:
    """Until nothing is pending (outboxes, queues, consumer lag) and no figure moved for `settle_s`, or
    nothing moved for `stuck_s` with work still pending (stuck: the checks say what is missing); False
    after `timeout`."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        figures = asyncio.run(probe.figures())
        figures["pending"] = asyncio.run(_pending(database_url, prefix))
        figures["lag"] = asyncio.run(total_lag(probe.bootstrap, probe.topic_namespace))
        if figures != last:
            last, since = figures, time.monotonic()
        else:
            still = time.monotonic() - since
            idle = figures["pending"] == 0 and figures["lag"] == 0
            if (idle and still >= settle_s) or still >= stuck_s:
                state = "quiescent" if idle else f"stuck for {still:.0f} s"
                say(f"{state}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
                return True
        time.sleep(1)
    say(f"NOT quiescent after {timeout:.0f} s: {last}")
    return False


def _facts(probe: Probe) -> int:
    figures = asyncio.run(probe.figures())
    return min(figures["pfmp_decisions"], figures["pfmp_ribs"])


def feed(stack: LocalStack, load: Load, files: tuple[Path, Path, Path, Path], probe: Probe, timeout: float,
         say: Say, chaos: Chaos | None = None) -> None:
    """Import the school as schools do, re-imports and duplicated rows included; inject bad messages."""
    establishments, mefs, students, ribs = files
    _command(stack, say, "aplypro-students", "load-establishments", str(establishments))
    _command(stack, say, "aplypro-students", "load-mefs", str(mefs), "--school-year", "2025")
    _command(stack, say, "aplypro-students", "import-csv", str(students), "--uai", UAI)
    _command(stack, say, "aplypro-students", "import-ribs", str(ribs))
    namespace = stack.extra_env["APLYPRO_TOPIC_NAMESPACE"]
    messages = bad_messages(load, namespace)
    for topic, bodies in messages.items():
        asyncio.run(produce(stack.env["KAFKA_BOOTSTRAP_SERVERS"], topic, [(uuid.uuid4(), b) for b in bodies]))
    say(f"injected {load.injected.total()} bad messages on {len(messages)} topics")
    diagnose = _where_work_stands(probe, stack.env["DATABASE_URL"], stack.schema_prefix)
    cap = timeout + load.students * 2
    _wait("pfmp knows every schooling", lambda: asyncio.run(probe.figures())["pfmp_schoolings"], load.students,
          timeout, cap, say, diagnose, chaos)
    # Validation needs each schooling's DA and a RIB (issue 10): the documents service must have issued them.
    _wait("pfmp knows every DA and RIB", lambda: _facts(probe), load.students, timeout, cap, say, diagnose, chaos)
    first, second, again = load.pfmp_files
    _command(stack, say, "aplypro-pfmp", "import-csv", str(first))
    _command(stack, say, "aplypro-pfmp", "import-csv", str(second))
    _command(stack, say, "aplypro-pfmp", "validate", "--uai", UAI)
    _command(stack, say, "aplypro-pfmp", "import-csv", str(again))  # the same file again, after validation
    _command(stack, say, "aplypro-pfmp", "validate", "--uai", UAI)
    rectify(stack, load, timeout, cap, say, diagnose, chaos)


def rectify(stack: LocalStack, load: Load, timeout: float, cap: float, say: Say, diagnose: Callable[[], str],
            chaos: Chaos | None) -> None:
    """Once each chosen PFMP is paid, staff give it one more day (`aplypro-pfmp edit`): a rectification."""
    if not load.rectifications:
        return
    url, prefix = stack.env["DATABASE_URL"], stack.schema_prefix
    _wait("the PFMPs to rectify are paid", lambda: paid_or_rectified(url, prefix, load), len(load.rectifications),
          timeout, cap, say, diagnose, chaos)
    deadline = time.monotonic() + timeout
    while (left := rectify_paid(stack.env, prefix, load, say)) and time.monotonic() < deadline:
        time.sleep(2)
    if left:
        raise DrillAborted(f"{left} of {len(load.rectifications)} rectifications still refused after {timeout:.0f} s")
    say(f"rectifications: {len(load.rectifications)} paid PFMPs edited (one more day)")


def run_drill(workdir: Path, students: int, minutes: float, echo: Say = print, kill_interval_s: float = 4.0,
              quiesce_timeout_s: float = 600, settle_s: float = 10, stuck_s: float = 120, accidents: bool = True,
              servers: dict[str, str] | None = None) -> int:
    """Returns 0 when everything holds, 1 when a check failed, 2 when the drill could not run.
    `servers` (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL) reuses running servers; else embedded ones start."""
    started = time.monotonic()
    plain_say = echo

    def say(line: str) -> None:  # progress lines carry the seconds since the start
        plain_say(f"[{time.monotonic() - started:5.0f} s] {line}")

    namespace = f"drill{uuid.uuid4().hex[:8]}."
    asp = FakeAspInThread(workdir / "fake-asp")  # the gateway uploads to it over SFTP; the desk polls it
    stack = LocalStack(workdir, extra_env={**drill_env(namespace), **(servers or {}), **asp.start()})
    stack.start_servers()
    # A poll is a whole CLI process: a long run polls less often (a few hours' files, not every 5 s).
    desk = AspDesk(asp, stack.env, poll_every_s=max(POLL_EVERY_S, students / 1000))
    fleet = Fleet(stack.env, workdir / "logs", namespace)
    chaos = Chaos(fleet, kill_interval_s, lambda line: say(f"  chaos: {line}"))
    probe = Probe(stack.env["DATABASE_URL"], stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.schema_prefix, namespace)
    try:
        load, *files = generate(workdir / "load", students, accidents=accidents)
        say(f"drill: {students} students, {len(load.periods)} PFMP periods, {load.duplicated_rows} rows twice "
            f"in a file, {load.pfmp_files[2].name} imported last; namespace {namespace}")
        say(f"broker {stack.env['KAFKA_BOOTSTRAP_SERVERS']}, database {stack.env['DATABASE_URL']}")
        with chaos.lock:
            fleet.start_all()
        say(f"started 2 instances of {', '.join(SERVICES)} (relay process, 2 consumer processes each)")
        chaos.start()
        desk.start()
        feed(stack, load, (files[0], files[1], files[2], files[3]), probe, max(120.0, students / 20), say, chaos)
        remaining = minutes * 60 - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        chaos.stop()
        say(f"chaos over: {chaos.total_kills} kills ({dict(chaos.kills)}), rolling restarts {dict(chaos.restarts)}, "
            f"paused {chaos.pauses} times for the load to move")
        quiet = wait_quiescent(probe, stack.env["DATABASE_URL"], stack.schema_prefix, quiesce_timeout_s, settle_s, stuck_s, say)
        desk.stop()
        say(f"ASP desk: {desk.polls} polls ({desk.failed_polls} failed, retried at the next)")
        findings, stale = asyncio.run(checks.run_checks(
            load, stack.env["DATABASE_URL"], stack.env["KAFKA_BOOTSTRAP_SERVERS"], namespace, stack.schema_prefix,
            asp.upload_dir))
    except DrillAborted as exc:
        plain_say(f"drill aborted ({exc.code}): {exc}")
        plain_say(f"drill: {students} students, {chaos.total_kills} kills, aborted")
        return 2
    finally:
        try:
            if chaos.is_alive():
                chaos.stop()
            fleet.kill_all()  # the verdict is in (or cannot be had): no clean stop needed
        finally:
            if desk.is_alive():
                desk.stop()
            stack.stop()
            asp.stop()
    return verdict(students, chaos.total_kills, findings, stale, quiet, time.monotonic() - started, plain_say)


def verdict(students: int, kills: int, findings: list[checks.Finding], stale: str, quiet: bool, seconds: float,
            say: Say) -> int:
    for f in findings:
        say(f"check {f.name}: {'ok' if f.ok else 'FAILED'}: {f.detail}")
    say(f"stale events dropped: {stale}")
    say(f"elapsed: {seconds:.0f} s")
    failed = [f.name for f in findings if f.failed] + ([] if quiet else ["quiescence"])
    lost, duplicated = sum(f.lost for f in findings), sum(f.duplicated for f in findings)
    if failed:
        say("failed: " + ", ".join(failed))
    say(f"drill: {students} students, {kills} kills, {lost} lost, {duplicated} duplicated")
    return 0 if not failed and not lost and not duplicated else 1
