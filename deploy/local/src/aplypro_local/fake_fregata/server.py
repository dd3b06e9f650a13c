"""Runs the fake FREGATA with uvicorn on a free loopback port, in a thread of the calling process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from aplypro_local.fake_fregata.app import create_app
from aplypro_local.fake_fregata.state import FakeFregataState


@dataclass(frozen=True)
class FakeFregataServer:
    root: str  # http://127.0.0.1:<port>/
    state: FakeFregataState

    @property
    def base_url(self) -> str:
        return f"{self.root}api"  # the client adds `/inscriptions`

    def env(self) -> dict[str, str]:
        """The APLYPRO_FREGATA_* settings that point a client at this server."""
        return {"APLYPRO_FREGATA_BASE_URL": self.base_url, "APLYPRO_FREGATA_KEY_ID": self.state.key_id,
                "APLYPRO_FREGATA_SECRET": self.state.secret}


@contextmanager
def serve(state: FakeFregataState | None = None, *, port: int = 0) -> Iterator[FakeFregataServer]:
    """The server runs until the block ends; the socket is bound before the thread starts (no port race)."""
    state = state or FakeFregataState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(create_app(state), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-fregata", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake FREGATA did not start")
        time.sleep(0.01)
    try:
        yield FakeFregataServer(f"http://127.0.0.1:{sock.getsockname()[1]}/", state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
