"""An ASGI app served by uvicorn on a loopback port, in a thread of the calling process: how the fakes of
outside HTTP systems (SYGNE, FREGATA) run in tests, the demo and `aplypro up`."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serving(app: Any, name: str, port: int = 0) -> Iterator[str]:
    """Yields the root URL (`http://127.0.0.1:<port>/`) while the app runs; the socket is bound before the
    thread starts (no port race). No access log: request paths carry INEs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the {name} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def print_settings_until_interrupted(settings: dict[str, str]) -> None:
    """For `python -m aplypro_local.fake_*`: print the settings a client needs, then serve until Ctrl-C."""
    for key, value in settings.items():
        print(f"{key}={value}")  # noqa: T201 - the settings to give the students service
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
