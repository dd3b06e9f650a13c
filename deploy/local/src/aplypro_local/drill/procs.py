"""Process control of the drill: two instances of each service, and the processes they spawn, found and
named by role so the chaos driver can kill any of them.

Every process of a drill carries the drill's topic namespace in its environment (children inherit it),
so `/proc/<pid>/environ` finds them all, orphans included. Roles:
- `main`: an instance's service process (we started it);
- `relay`, `consumer`, `render`: the spawned children of a main process (its relay, its extra consumer
  process, and in documents its render worker). All are `spawn_main` children and look alike from
  outside (documents even maps pango in every process), so they are told apart by start order: a main
  process starts its relay before its extra consumers (runtime.py), and its render pool's worker only at
  the first document; it restarts a dead child in the same role, so a new child takes the role that is
  missing among the live ones. A heuristic: a report may name a relay a consumer after a crowded restart.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from aplypro_local.stack import SERVICES, service_command

INSTANCES = 2
CHILD_ROLES = {"documents": ("relay", "consumer", "render")}
DEFAULT_ROLES = ("relay", "consumer")


@dataclass
class Instance:
    service: str
    index: int
    process: subprocess.Popen[bytes]
    ops_port: int  # /readyz: a rolling restart waits for it, as Kubernetes does
    roles: dict[int, str] = field(default_factory=dict)  # child pid -> role, kept across scans

    @property
    def name(self) -> str:
        return f"{self.service}#{self.index}"


@dataclass(frozen=True)
class Target:
    role: str
    pid: int
    instance: str


def _read(pid: int, what: str) -> bytes:
    try:
        return (Path("/proc") / str(pid) / what).read_bytes()
    except OSError:
        return b""


def _ppid_and_start(pid: int) -> tuple[int, int]:
    stat = _read(pid, "stat").decode(errors="replace")
    fields = stat[stat.rfind(")") + 2:].split()  # after "(comm)": state ppid ... starttime is field 22
    return (int(fields[1]), int(fields[19])) if len(fields) > 19 else (0, 0)


def processes_of(namespace: str) -> list[int]:
    """Every live process whose environment holds this drill's namespace."""
    marker = f"APLYPRO_TOPIC_NAMESPACE={namespace}\0".encode()
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and marker in _read(int(p.name), "environ")]


@dataclass
class Fleet:
    """The service instances of one drill, started with the stack's environment."""

    env: dict[str, str]
    logs: Path
    namespace: str
    instances: dict[str, Instance] = field(default_factory=dict)
    updating: set[str] = field(default_factory=set)  # instances a rolling update is stopping and starting

    def start(self, service: str, index: int) -> Instance:
        port = _free_port()
        with (self.logs / f"{service}-{index}.log").open("ab") as log:
            process = subprocess.Popen(service_command(service), env={**self.env, "APLYPRO_OPS_PORT": str(port)},
                                       stdout=log, stderr=log, start_new_session=True)
        instance = self.instances[f"{service}#{index}"] = Instance(service, index, process, port)
        return instance

    def start_all(self) -> None:
        for service in SERVICES:
            for index in range(1, INSTANCES + 1):
                self.start(service, index)

    def restart_dead(self) -> list[str]:
        """Start again every instance whose main process has exited (as `aplypro up` does)."""
        dead = [i for i in self.instances.values() if i.process.poll() is not None and i.name not in self.updating]
        for instance in dead:
            self.start(instance.service, instance.index)
        return [i.name for i in dead]

    def targets(self) -> list[Target]:
        """Every live process of the drill that a kill may hit, with its role."""
        pids = set(processes_of(self.namespace))
        mains = {i.process.pid: i for i in self.instances.values() if i.process.poll() is None}
        found = [Target("main", pid, i.name) for pid, i in mains.items() if pid in pids]
        children: dict[int, list[tuple[int, int]]] = {}
        for pid in pids - set(mains):
            cmdline = _read(pid, "cmdline")
            if b"resource_tracker" in cmdline or b"spawn_main" not in cmdline:
                continue  # multiprocessing's bookkeeping helper, or not a Python child
            ppid, start = _ppid_and_start(pid)
            if ppid in mains:
                children.setdefault(ppid, []).append((start, pid))
        for ppid, kids in children.items():
            instance = mains[ppid]
            instance.roles = {pid: role for pid, role in instance.roles.items() if any(pid == k for _, k in kids)}
            missing = [r for r in CHILD_ROLES.get(instance.service, DEFAULT_ROLES) if r not in instance.roles.values()]
            for _, pid in sorted(kids):
                if pid not in instance.roles and missing:
                    instance.roles[pid] = missing.pop(0)
            found += [Target(role, pid, instance.name) for pid, role in instance.roles.items()]
        return found

    def kill(self, target: Target) -> None:
        try:
            os.kill(target.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        for instance in self.instances.values():
            if instance.process.pid == target.pid:
                instance.process.wait()

    def rolling_restart(self, service: str, lock: threading.Lock, timeout: float = 30,
                        ready_within: float = 90) -> None:
        """SIGTERM one instance, wait for its clean stop, start it again and wait until it is ready (its
        /readyz, as a Kubernetes rolling update waits for the readiness probe); then the next one.

        Meant for a thread of its own, so that kills go on during the update: `lock` is held only to
        touch the fleet, never while waiting, and `restart_dead` leaves the instance being updated alone."""
        for index in range(1, INSTANCES + 1):
            name = f"{service}#{index}"
            with lock:
                self.updating.add(name)
                instance = self.instances[name]
                if instance.process.poll() is None:
                    instance.process.send_signal(signal.SIGTERM)
            try:
                instance.process.wait(timeout)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait()
            with lock:
                started = self.start(service, index)
                self.updating.discard(name)
            wait_ready(started, ready_within)

    def kill_all(self) -> None:
        """SIGKILL every process of the drill, orphans included (the last scan catches late spawns)."""
        for _ in range(3):
            for instance in self.instances.values():
                if instance.process.poll() is None:
                    instance.process.kill()
                    instance.process.wait()
            self._kill_strays()
            time.sleep(0.3)

    def _kill_strays(self) -> None:
        for pid in processes_of(self.namespace):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_ready(instance: Instance) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{instance.ops_port}/readyz", timeout=2) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def wait_ready(instance: Instance, within: float) -> bool:
    """Until the instance answers ready, dies, or `within` seconds pass (then the restart goes on: a
    rolling update that never completes is no drill)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and instance.process.poll() is None:
        if is_ready(instance):
            return True
        time.sleep(0.5)
    return False
