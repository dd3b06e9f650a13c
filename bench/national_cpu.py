"""Where the CPU goes in a national run, per process kind: each service (its main process, relay, consumers and
workers together), each CLI the bench runs, PostgreSQL, the broker, the fake SYGNE, the bench itself.

A thread samples every process of the run once a second (psutil): the bench's descendants, and the run's
PostgreSQL (pg_ctl detaches it, so it is found by its data directory). A process keeps the CPU it had at its last
sample, so a CLI that ends between two samples loses under a second. `mark(stage)` closes a stage: its CPU per kind
and the machine's (every process, other engineers' included), so a figure says how busy the machine was.

PostgreSQL's CPU is also split by whom its backends served: each pool names its connections (`application_name`,
aplypro_servicekit.db: `<schema> <role>`), read from pg_stat_activity at each sample; the server's own processes
(WAL writer, checkpointer, autovacuum...) by their title. Given `database_url`, each stage has a `pg by client` line.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil

SERVICES = ("students", "pfmp", "calculator", "documents", "asp-gateway")


def kind_of(cmdline: list[str], parent_kind: str | None) -> str:
    """`documents`, `asp-gateway poll`, `postgres`, `broker`...: a service's own children (relay, consumer
    processes, render workers: multiprocessing spawns) count as the service."""
    text = " ".join(cmdline)
    if "multiprocessing" in text and parent_kind is not None:
        return parent_kind
    for i, part in enumerate(cmdline):
        name = part.rsplit("/", 1)[-1]
        if name.startswith("aplypro-") and name[len("aplypro-"):] in SERVICES:
            service = name[len("aplypro-"):]
            command = next((c for c in cmdline[i + 1:] if not c.startswith("-")), "run")
            return service if command == "run" else f"{service} {command}"
    if "tansu" in text:
        return "broker"
    if cmdline and "postgres" in cmdline[0].rsplit("/", 1)[-1]:
        return "postgres"
    return parent_kind or "other"


@dataclass(frozen=True)
class StageCpu:
    name: str
    seconds: float
    by_kind: dict[str, float]
    machine: float  # every process on the machine, CPU seconds (user + system)
    pg_by_client: dict[str, float] = field(default_factory=dict)  # PostgreSQL's CPU by whom its backends served

    def pg_line(self) -> str:
        return f"pg by client {self.name}: " + " ".join(
            f"{k}={v:.1f}" for k, v in sorted(self.pg_by_client.items(), key=lambda kv: -kv[1]) if v >= 0.05)

    def line(self) -> str:
        ours = sum(self.by_kind.values())
        kinds = " ".join(f"{k}={v:.1f}" for k, v in sorted(self.by_kind.items(), key=lambda kv: -kv[1]) if v >= 0.05)
        return (f"cpu {self.name}: {self.seconds:.0f} s, run {ours:.1f} cpu-s ({ours / self.seconds:.2f} cores), "
                f"machine {self.machine:.1f} cpu-s ({self.machine / self.seconds:.2f} cores): {kinds}")


class CpuByProcess(threading.Thread):
    def __init__(self, pgdata: Path, every_s: float = 1.0, database_url: str | None = None,
                 schema_prefix: str = "") -> None:
        super().__init__(name="national-cpu", daemon=True)
        self.pgdata, self.every_s = str(pgdata), every_s
        self.database_url, self.schema_prefix = database_url, schema_prefix
        self._clients: dict[int, str] = {}  # backend pid -> application_name, from pg_stat_activity
        self.pg_seen: dict[tuple[int, float], tuple[str, float]] = {}  # like `seen`, PostgreSQL's by client
        # (pid, start time) -> (kind, cpu seconds at its last sample): a pid the system reuses is another process
        self.seen: dict[tuple[int, float], tuple[str, float]] = {}
        self._kinds: dict[int, tuple[float, str]] = {}  # pid -> (start time, kind)
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._last: tuple[float, dict[str, float], float, dict[str, float]] = (time.monotonic(), {}, _machine_cpu(), {})

    def run(self) -> None:
        loop = asyncio.new_event_loop()  # this thread's own, for its pg_stat_activity reads
        conn: asyncpg.Connection | None = None
        try:
            while not self._halt.wait(self.every_s):
                if self.database_url:
                    conn = self._read_clients(loop, conn)
                self.sample()
        finally:
            if conn is not None:
                loop.run_until_complete(conn.close())
            loop.close()

    def _read_clients(self, loop: asyncio.AbstractEventLoop,
                      conn: asyncpg.Connection | None) -> asyncpg.Connection | None:
        """The backends' names; a failed read (no connection left, a restart) leaves them as they were, and the
        CPU samples go on: connected again at the next one."""
        assert self.database_url is not None
        try:
            if conn is None or conn.is_closed():
                conn = loop.run_until_complete(asyncpg.connect(self.database_url))
            with_names = loop.run_until_complete(conn.fetch(
                "SELECT pid, application_name FROM pg_stat_activity WHERE application_name <> ''"))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return None
        with self._lock:
            self._clients.update({r["pid"]: self._client(r["application_name"]) for r in with_names})
        return conn

    def _client(self, application_name: str) -> str:
        """`pfmp run` of `<prefix>pfmp run`: the run's schemas share the namespace's prefix."""
        return application_name.removeprefix(self.schema_prefix)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def sample(self) -> None:
        me = psutil.Process(os.getpid())
        processes = [me, *me.children(recursive=True), *self._postgres()]
        with self._lock:
            for process in processes:
                try:
                    kind = self._classify(process)
                    times = process.cpu_times()
                    key, cpu = (process.pid, process.create_time()), times.user + times.system
                    self.seen[key] = (kind, cpu)
                    if kind == "postgres" and (client := self._pg_client(process)) is not None:
                        self.pg_seen[key] = (client, cpu)
                except (psutil.Error, OSError):  # gone, a zombie, or no longer readable: keeps its last sample
                    continue

    def _pg_client(self, process: psutil.Process) -> str | None:
        """The client a backend serves, once named; the server's own processes by their title's first words; None
        for a young session not named yet (its CPU goes to its name once read: a label never changes, or a stage
        would count a process's earlier CPU again)."""
        if (client := self._clients.get(process.pid)) is not None:
            return client
        title = " ".join(process.cmdline()).removeprefix("postgres: ")
        words = title.split()
        if words and words[0] in {"autovacuum", "background", "logical", "walwriter", "checkpointer", "startup",
                                  "archiver", "walsender", "walreceiver"}:
            return " ".join(words[:2]) if words[0] in {"autovacuum", "background", "logical"} else words[0]
        if time.time() - process.create_time() < 5 * self.every_s:
            return None
        return "unnamed"  # a session without a name (the bench's probe, psql), or the postmaster itself

    def _classify(self, process: psutil.Process) -> str:
        """A process's kind; its parent's first (a service's spawned children count as the service)."""
        started = process.create_time()
        if (known := self._kinds.get(process.pid)) is not None and known[0] == started:
            return known[1]
        me = os.getpid()
        cmdline = process.cmdline()
        parent = process.ppid()
        if process.pid == me:
            kind = "bench"  # the bench, its fake ASP (SFTP server thread) and its ASP desk thread
        elif parent == me and "multiprocessing" in " ".join(cmdline):
            kind = "fake-sygne"  # the bench's only spawned child
        elif parent == me:
            kind = kind_of(cmdline, None)  # a service, the broker, a CLI; "other" for anything else
        else:
            parent_kind = None
            if parent not in (0, 1, process.pid):
                try:
                    parent_process = psutil.Process(parent)
                    if parent_process.pid == me or me in {p.pid for p in parent_process.parents()}:
                        parent_kind = self._classify(parent_process)
                except psutil.NoSuchProcess:
                    pass
            kind = kind_of(cmdline, parent_kind)
        self._kinds[process.pid] = (started, kind)
        return kind

    def _postgres(self) -> list[psutil.Process]:
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if cmdline and "postgres" in cmdline[0] and self.pgdata in " ".join(cmdline):
                self._kinds[process.pid] = (process.create_time(), "postgres")
                return [process, *process.children(recursive=True)]
        return []

    def totals(self) -> dict[str, float]:
        return self._summed(self.seen)

    def _summed(self, seen: dict[tuple[int, float], tuple[str, float]]) -> dict[str, float]:
        with self._lock:
            out: dict[str, float] = {}
            for kind, seconds in seen.values():
                out[kind] = out.get(kind, 0.0) + seconds
            return out

    def mark(self, stage: str) -> StageCpu:
        """The CPU of every kind since the previous mark (or the start)."""
        self.sample()
        now, totals, machine, pg = time.monotonic(), self.totals(), _machine_cpu(), self._summed(self.pg_seen)
        started, before, machine_before, pg_before = self._last
        self._last = (now, totals, machine, pg)
        return StageCpu(stage, now - started, _grown(totals, before), machine - machine_before, _grown(pg, pg_before))


def _grown(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in now.items() if v - before.get(k, 0.0) > 0}


def _machine_cpu() -> float:
    times = psutil.cpu_times()
    return sum(getattr(times, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))


NOT_PIPELINE = ("bench", "fake-sygne", "other")  # the bench, its fake ASP desk and fake SYGNE, strangers


def cpu_per_student_line(stages: list[StageCpu], students: int) -> str:
    """The goal's measure, CPU milliseconds a student of "everything but documents", summed over the stages: every
    process of the run but the documents service's, the bench's and its fakes'; `with_documents_pg` keeps the
    PostgreSQL backends that served the documents service (as the figures before this line did), `without` leaves
    them out too (they are the documents service's work)."""
    kinds: dict[str, float] = {}
    pg: dict[str, float] = {}
    for stage in stages:
        for kind, seconds in stage.by_kind.items():
            kinds[kind] = kinds.get(kind, 0.0) + seconds
        for client, seconds in stage.pg_by_client.items():
            pg[client] = pg.get(client, 0.0) + seconds
    pipeline = sum(s for k, s in kinds.items() if k not in NOT_PIPELINE and not k.startswith("documents"))
    documents_pg = sum(s for client, s in pg.items() if client.startswith("documents"))
    per = 1000 / max(1, students)
    return (f"cpu per student (everything but documents): with_documents_pg={pipeline * per:.1f} ms "
            f"without={(pipeline - documents_pg) * per:.1f} ms (run {pipeline:.0f} cpu-s, documents' PostgreSQL "
            f"{documents_pg:.0f} cpu-s, {students} students)")
