"""What the fake FREGATA serves and how it misbehaves; shared by the server thread and the test driving it."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aplypro_local.fake_sygne.state import Fault  # the same fault description as the fake SYGNE's

KEY_ID, SECRET = "aplypro", "fake-fregata-secret"  # the fake's own credentials, for tests and the demo
YEAR_OFFSET = 1996  # anneeScolaireId 29 is 2025-2026

__all__ = ["KEY_ID", "SECRET", "FakeFregataState", "Fault"]


@dataclass
class FakeFregataState:
    """Inscriptions as FREGATA sends them (raw dicts, served verbatim, awkward shapes included), faults, counters."""

    # repr=False: a failing test's report must not print the (invented) personal data
    inscriptions: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    key_id: str = KEY_ID
    secret: str = SECRET
    max_clock_skew: float = 300.0  # seconds between the signed `Date` and now: an older signature is replayed
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # "inscriptions", "bad_signature", "401", "504", ...
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *entries: dict[str, Any], uai: str, school_year: int) -> None:
        """Serves the entries for (rne, anneeScolaireId) in this order, after those already there."""
        self.inscriptions.setdefault((uai, school_year - YEAR_OFFSET), []).extend(entries)

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def count(self, what: str) -> None:
        with self._lock:
            self.requests[what] += 1

    def take_fault(self, path: str) -> Fault | None:
        """The first pending fault whose `path` is in the request's path, consumed once."""
        with self._lock:
            for fault in self.faults:
                if fault.path in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None
