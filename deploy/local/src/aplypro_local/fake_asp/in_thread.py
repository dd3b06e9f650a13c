"""The fake ASP served from a thread of its own (its own event loop), for the demo and `aplypro up`: the
gateway's processes reach it over SFTP on 127.0.0.1 exactly as they would reach the ASP, and the caller can
ask it for the payment returns (`emit_payments`, `emit_recovery_orders`) between two polls."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from aplypro_local.fake_asp.behaviour import Behaviour
from aplypro_local.fake_asp.keys import generate_keys, write_known_hosts
from aplypro_local.fake_asp.pickup import Violation
from aplypro_local.fake_asp.server import FakeAsp

T = TypeVar("T")
CALL_TIMEOUT_S = 300.0
USER = "aplypro"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ledger:
    """What the fake received and answered, copied out of its thread for a test to assert on."""

    record_counts: dict[int, int]  # idEnregistrement → times received (the tests assert 1)
    integrated: dict[int, str]  # idEnregistrement integrated → the IBAN its record carried
    paid: frozenset[int]  # idEnregistrement answered in a payments return (PAYE or INVALIDE)
    violations: tuple[Violation, ...]


class FakeAspInThread:
    def __init__(self, root: Path, behaviour: Behaviour | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.root = root
        self.behaviour = behaviour or Behaviour(remove_taken=False)  # the uploads stay to be looked at
        self.clock = clock  # the fake's clock (names, dates, the weekday rules); None: the wall clock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-asp", daemon=True)
        self.fake: FakeAsp | None = None
        self.env: dict[str, str] = {}

    def start(self) -> dict[str, str]:
        """Serve on a free port; returns the gateway's settings (APLYPRO_ASP_SFTP_*) for it."""
        keys = generate_keys(self.root / "keys")
        self._thread.start()
        self.fake = FakeAsp(self.root / "server", keys.host_key, keys.authorized_keys, self.behaviour, clock=self.clock)
        port = self._call(self.fake.start(HOST, 0))
        known_hosts = write_known_hosts(self.root / "keys" / "known_hosts", HOST, port, keys.host_public)
        self.env = {"APLYPRO_ASP_SFTP_HOST": HOST, "APLYPRO_ASP_SFTP_PORT": str(port),
                    "APLYPRO_ASP_SFTP_USER": USER, "APLYPRO_ASP_SFTP_KEY_PATH": str(keys.client_key),
                    "APLYPRO_ASP_SFTP_KNOWN_HOSTS": str(known_hosts),
                    "APLYPRO_ASP_SFTP_UPLOAD_DIR": "depot", "APLYPRO_ASP_SFTP_RETURN_DIR": "retour"}
        return self.env

    @property
    def upload_dir(self) -> Path:
        assert self.fake is not None
        return self.fake.upload_dir

    def uploads(self) -> int:
        """Payment files received under their final name."""
        assert self.fake is not None
        return self._in_loop(lambda: sum(self.fake.uploads.values()) if self.fake else 0)

    def ledger(self) -> Ledger:
        def copy() -> Ledger:
            assert self.fake is not None
            desk = self.fake.desk
            return Ledger(dict(desk.records_seen), {k: v.iban for k, v in desk.integrated.items()},
                          frozenset(self.fake.paid_records), tuple(desk.violations))
        return self._in_loop(copy)

    def emit_payments(self) -> str | None:
        """The payments return of every integrated record not answered yet (FakeAsp.emit_payments)."""
        return self._in_loop(lambda: self.fake.emit_payments() if self.fake else None)

    def emit_recovery_orders(self) -> str | None:
        """The recovery orders of every integrated record that lowered its PFMP's total (FakeAsp.emit_recovery_orders)."""
        return self._in_loop(lambda: self.fake.emit_recovery_orders() if self.fake else None)

    def stop(self) -> None:
        if self.fake is not None and self._thread.is_alive():
            self._call(self.fake.close())
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        # Answering a few 7,000-record files on a loaded machine takes more than a minute (the drill's 20,000).
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(CALL_TIMEOUT_S)

    def _in_loop(self, work: Callable[[], T]) -> T:
        """`work` on the server's own thread: its state is only ever touched there."""
        async def run() -> T:
            return work()
        return self._call(run())
