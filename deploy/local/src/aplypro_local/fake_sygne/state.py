"""What the fake SYGNE serves and how it misbehaves; shared by the server thread and the test that drives it."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CLIENT_ID, SECRET = "aplypro", "fake-sygne-secret"  # the fake's own credentials, for tests and the demo


@dataclass
class Fault:
    """The next `times` requests whose path contains `path` get `status` (with Retry-After) or a `delay`."""

    status: int | None = None  # None: served normally, after `delay`
    times: int = 1
    path: str = ""  # "" matches every API path; "token" the token endpoint
    retry_after: str | None = None
    delay: float = 0.0  # seconds before answering: a slow SYGNE, or a client timeout


@dataclass
class FakeSygneState:
    """Payloads as SYGNE sends them (raw dicts, so awkward shapes are served verbatim), faults and counters."""

    # repr=False: a failing test's report must not print the (invented) personal data
    lists: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict, repr=False)  # (uai, year)
    details: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # INE → detail (absent: 404)
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)  # INE → scolarites
    token_ttl: int = 600  # `expires_in` of each token; the fake refuses it (401) once past
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # "token", "list", "detail", "history", "401", ...
    _tokens: dict[str, float] = field(default_factory=dict, repr=False)  # token → expiry (monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def issue_token(self) -> tuple[str, int]:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
            self.requests["token"] += 1
        return token, self.token_ttl

    def token_valid(self, token: str) -> bool:
        with self._lock:
            return self._tokens.get(token, 0.0) > time.monotonic()

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on: the client must fetch a new one."""
        with self._lock:
            self._tokens.clear()

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def count(self, what: str) -> None:
        with self._lock:
            self.requests[what] += 1

    def take_fault(self, path: str) -> Fault | None:
        """The first pending fault matching the path, consumed once."""
        with self._lock:
            for fault in self.faults:
                if fault.path in path and (fault.path == "token") == (path == "token"):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def add_student(self, entry: dict[str, Any], *, detail: dict[str, Any] | None = None,
                    history: list[dict[str, Any]] | None = None) -> None:
        """Lists the entry under its codeUai and anneeScolaire; a detail and history if given."""
        key = (str(entry.get("codeUai")), int(str(entry.get("anneeScolaire"))))
        self.lists.setdefault(key, []).append(entry)
        ine = str(entry.get("ine"))
        if detail is not None:
            self.details[ine] = detail
        if history is not None:
            self.histories[ine] = history
