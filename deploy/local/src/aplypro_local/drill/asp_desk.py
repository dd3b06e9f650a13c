"""The ASP's side of the drill: the fake ASP takes the gateway's uploads over SFTP, and a thread polls its
answers and asks it for its payments, as an operator's scheduled `aplypro-asp-gateway poll` would. A
student's second PFMP leaves only once the ASP integrated the first (asp-exchange.md §4.3), so without
answers half the periods would never be paid."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from aplypro_local.fake_asp.in_thread import FakeAspInThread

POLL_EVERY_S = 5.0


class AspDesk(threading.Thread):
    def __init__(self, asp: FakeAspInThread, env: dict[str, str], poll_every_s: float = POLL_EVERY_S,
                 *, poll_command: bool = True) -> None:
        """`poll_command` false: the gateway polls by itself (APLYPRO_ASP_POLL_INTERVAL_S); the desk only has the
        fake ASP pay what it integrated."""
        super().__init__(name="drill-asp-desk", daemon=True)
        self.asp, self.env, self.poll_every_s, self.poll_command = asp, env, poll_every_s, poll_command
        self.polls = 0
        self.failed_polls = 0  # a poll may meet a gateway being killed or a database busy: the next one retries
        self._halt = threading.Event()

    def run(self) -> None:
        script = Path(sys.executable).parent / "aplypro-asp-gateway"
        while not self._halt.wait(self.poll_every_s):
            try:
                if self.poll_command:
                    result = subprocess.run([str(script), "poll"], env=self.env, capture_output=True, timeout=120,
                                            check=False)
                    self.failed_polls += result.returncode != 0
                self.asp.emit_payments()
                self.asp.emit_recovery_orders()  # lowered rectifications, once the §8.2 block is off
            except Exception:  # a slow or failed round is retried at the next: the desk never dies
                self.failed_polls += 1
            self.polls += 1

    def stop(self) -> None:
        self._halt.set()
        self.join()
