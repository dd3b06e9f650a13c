"""Where the CPU goes in a national run, per process kind: each service (its main process, relay, consumers and
workers together), each CLI the bench runs, PostgreSQL, the broker, the fake SYGNE, the bench itself.

A thread samples every process of the run once a second (psutil): the bench's descendants, and the run's
PostgreSQL (pg_ctl detaches it, so it is found by its data directory). A process keeps the CPU it had at its last
sample, so a CLI that ends between two samples loses under a second. `mark(stage)` closes a stage: its CPU per kind
and the machine's (every process, other engineers' included), so a figure says how busy the machine was.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

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

    def line(self) -> str:
        ours = sum(self.by_kind.values())
        kinds = " ".join(f"{k}={v:.1f}" for k, v in sorted(self.by_kind.items(), key=lambda kv: -kv[1]) if v >= 0.05)
        return (f"cpu {self.name}: {self.seconds:.0f} s, run {ours:.1f} cpu-s ({ours / self.seconds:.2f} cores), "
                f"machine {self.machine:.1f} cpu-s ({self.machine / self.seconds:.2f} cores): {kinds}")


class CpuByProcess(threading.Thread):
    def __init__(self, pgdata: Path, every_s: float = 1.0) -> None:
        super().__init__(name="national-cpu", daemon=True)
        self.pgdata, self.every_s = str(pgdata), every_s
        # (pid, start time) -> (kind, cpu seconds at its last sample): a pid the system reuses is another process
        self.seen: dict[tuple[int, float], tuple[str, float]] = {}
        self._kinds: dict[int, tuple[float, str]] = {}  # pid -> (start time, kind)
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._last: tuple[float, dict[str, float], float] = (time.monotonic(), {}, _machine_cpu())

    def run(self) -> None:
        while not self._halt.wait(self.every_s):
            self.sample()

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
                    self.seen[(process.pid, process.create_time())] = (kind, times.user + times.system)
                except (psutil.Error, OSError):  # gone, a zombie, or no longer readable: keeps its last sample
                    continue

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
        with self._lock:
            out: dict[str, float] = {}
            for kind, seconds in self.seen.values():
                out[kind] = out.get(kind, 0.0) + seconds
            return out

    def mark(self, stage: str) -> StageCpu:
        """The CPU of every kind since the previous mark (or the start)."""
        self.sample()
        now, totals, machine = time.monotonic(), self.totals(), _machine_cpu()
        started, before, machine_before = self._last
        self._last = (now, totals, machine)
        by_kind = {k: v - before.get(k, 0.0) for k, v in totals.items() if v - before.get(k, 0.0) > 0}
        return StageCpu(stage, now - started, by_kind, machine - machine_before)


def _machine_cpu() -> float:
    times = psutil.cpu_times()
    return sum(getattr(times, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))
