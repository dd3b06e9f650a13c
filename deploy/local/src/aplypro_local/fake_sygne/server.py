"""Runs the fake SYGNE with uvicorn on a free loopback port, in a thread of the calling process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from aplypro_local.fake_sygne.app import create_app
from aplypro_local.fake_sygne.state import CLIENT_ID, SECRET, FakeSygneState


@dataclass(frozen=True)
class FakeSygneServer:
    root: str  # http://127.0.0.1:<port>/
    state: FakeSygneState

    @property
    def base_url(self) -> str:
        return f"{self.root}api/"  # ends with `/`, as APLYPRO_SYGNE_BASE_URL must

    @property
    def token_url(self) -> str:
        return f"{self.root}token"

    def env(self) -> dict[str, str]:
        """The APLYPRO_SYGNE_* settings that point a client at this server."""
        return {"APLYPRO_SYGNE_BASE_URL": self.base_url, "APLYPRO_SYGNE_TOKEN_URL": self.token_url,
                "APLYPRO_SYGNE_CLIENT_ID": CLIENT_ID, "APLYPRO_SYGNE_SECRET": SECRET}


@contextmanager
def serve(state: FakeSygneState | None = None, *, port: int = 0) -> Iterator[FakeSygneServer]:
    """The server runs until the block ends; the socket is bound before the thread starts (no port race)."""
    state = state or FakeSygneState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(create_app(state), log_level="warning", access_log=False,  # URLs carry INEs
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-sygne", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake SYGNE did not start")
        time.sleep(0.01)
    try:
        yield FakeSygneServer(f"http://127.0.0.1:{sock.getsockname()[1]}/", state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
