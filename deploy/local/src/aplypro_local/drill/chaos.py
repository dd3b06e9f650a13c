"""The chaos driver: while the load runs, SIGKILL a random process of the drill (a service's main
process, a relay child, an extra consumer process, a render worker) or make a rolling restart of one
service (SIGTERM, clean stop, start again; one instance at a time), and bring killed instances back.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

from aplypro_local.stack import SERVICES

from .procs import Fleet

RESTART_SHARE = 0.15  # of the actions: rolling restarts (slow: a clean stop drains the relay)


class Chaos(threading.Thread):
    def __init__(self, fleet: Fleet, interval_s: float, say: Callable[[str], None], seed: int = 9) -> None:
        super().__init__(name="drill-chaos", daemon=True)
        self.fleet, self.interval_s, self.say = fleet, interval_s, say
        self.rng = random.Random(seed)  # noqa: S311 - choosing victims, not security
        self.kills: Counter[str] = Counter()
        self.restarts: Counter[str] = Counter()
        self.lock = threading.Lock()  # the fleet is shared with the main thread's restarts
        self._halt = threading.Event()
        self._update: threading.Thread | None = None  # one rolling update at a time, beside the kills
        self._acting = threading.Event()  # cleared: paused (the load made no progress, let it breathe)
        self._acting.set()
        self.pauses = 0

    def pause(self) -> bool:
        """Hold the next action until `resume`; True when this call paused a running chaos."""
        if not self._acting.is_set() or not self.is_alive():
            return False
        self.pauses += 1
        self._acting.clear()
        return True

    def resume(self) -> None:
        self._acting.set()

    def stop(self) -> None:
        self._halt.set()
        self._acting.set()
        self.join()
        if self._update is not None:
            self._update.join()
        with self.lock:
            self.fleet.restart_dead()

    def run(self) -> None:
        if self.interval_s <= 0:  # no chaos: a baseline run
            self._halt.wait()
        while not self._halt.wait(self.rng.uniform(0.5, 1.5) * self.interval_s):
            self._acting.wait()
            if self._halt.is_set():
                break
            with self.lock:
                self.fleet.restart_dead()
                if self.rng.random() < RESTART_SHARE and (self._update is None or not self._update.is_alive()):
                    service = self.rng.choice(SERVICES)
                    self.say(f"rolling restart of {service}")
                    self._update = threading.Thread(target=self.fleet.rolling_restart, args=(service, self.lock),
                                                    name=f"drill-update-{service}", daemon=True)
                    self._update.start()
                    self.restarts[service] += 1
                    continue
                targets = self.fleet.targets()
                if not targets:
                    continue
                # Every process equally likely: a role-first pick hit documents' two render workers as often
                # as all ten mains, a kill every ~8 s, faster than a starved 2-core machine brings a pool back.
                victim = self.rng.choice(sorted(targets, key=lambda t: (t.instance, t.role, t.pid)))
                self.fleet.kill(victim)
                self.kills[victim.role] += 1
                self.say(f"SIGKILL {victim.role} of {victim.instance} (pid {victim.pid})")

    @property
    def total_kills(self) -> int:
        return self.kills.total()
