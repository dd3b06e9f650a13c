"""A real OpenID Connect provider for the local stack and the tests (PyPI `oidc-provider-mock`), started as
a process with the demo accounts (features.md §1: director, authorised staff, academic user, ASP agent).

Its login page lists the accounts: a click logs in as one. Each account carries the FIM-like claims
aplypro_pfmp.domain.access reads; the UAI is the demo school's (school.UAI).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .school import UAI

OTHER_UAI = "0999002L"  # a second school: its staff must not reach the demo school's students

DEMO_ACCOUNTS: dict[str, dict[str, object]] = {
    "directrice": {"email": "directrice@ac-demo.fr", "given_name": "Claire", "family_name": "Martin",
                   "FrEduFonctAdm": "DIR", "FrEduRneResp": [f"{UAI}$UAJ$PU$N$T3$LP$340"]},
    "personnel": {"email": "personnel@ac-demo.fr", "given_name": "Karim", "family_name": "Benali",
                  "FrEduResDel": [f"DELEG-CE|applicationname=aplypro|FrEduRneResp={UAI}$UAJ$PU$N$T3$LP$340"]},
    "academique": {"email": "rectorat@ac-demo.fr", "given_name": "Anne", "family_name": "Leroy",
                   "AplyproAcademieResp": ["14"]},
    "agent-asp": {"email": "agent@asp-public.fr", "given_name": "Paul", "family_name": "Roux"},
    "national": {"email": "national@ac-demo.fr", "given_name": "Inès", "family_name": "Garnier",
                 "AplyproAcademieResp": ["*"]},
    "autre-ecole": {"email": "direction@ac-autre.fr", "given_name": "Luc", "family_name": "Petit",
                    "FrEduFonctAdm": "DIR", "FrEduRneResp": [f"{OTHER_UAI}$UAJ$PU$N$T3$LYC$340"]},
    "deux-ecoles": {"email": "direction@cite-scolaire.fr", "given_name": "Nora", "family_name": "Faure",
                    "FrEduFonctAdm": "DIR", "FrEduRneResp": [f"{UAI}$UAJ$PU$N$T3$LP$340",
                                                             f"{OTHER_UAI}$UAJ$PU$N$T3$LYC$340"]},
    "sans-role": {"email": "visiteur@example.fr", "given_name": "Eve", "family_name": "Durand"},
}

ACCOUNT_ROLES = {
    "directrice": f"director of {UAI}", "personnel": f"authorised staff of {UAI}",
    "academique": "academic user (academy 14)", "agent-asp": "ASP agent",
    "national": "national admin (every academy, exports)",
    "autre-ecole": f"director of another school ({OTHER_UAI})",
    "deux-ecoles": f"director of both schools ({UAI}, {OTHER_UAI}): chooses one",
    "sans-role": "no role: refused",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OidcProvider:
    """The provider process; `issuer` is what APLYPRO_WEB_OIDC_ISSUER must be."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, log_file: Path | None = None, timeout_s: float = 30,
              accounts: Mapping[str, Mapping[str, object]] = DEMO_ACCOUNTS) -> OidcProvider:
        """`accounts`: the identities its login page offers (sub → claims); the demo accounts by default."""
        port = port or free_port()
        args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--host", "127.0.0.1"]
        for sub, claims in accounts.items():
            args += ["--user-claims", json.dumps({"sub": sub, **claims})]
        out: IO[bytes] | int = subprocess.DEVNULL if log_file is None else log_file.open("ab")
        process = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True)
        provider = cls(process, port)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the OIDC provider exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"{provider.issuer}/.well-known/openid-configuration",  # noqa: S310
                                            timeout=1):
                    return provider
            except OSError:
                time.sleep(0.2)
        provider.stop()
        raise TimeoutError("the OIDC provider did not answer in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
