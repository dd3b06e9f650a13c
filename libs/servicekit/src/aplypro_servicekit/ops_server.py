"""A tiny HTTP server for operators: `/healthz`, `/readyz`, `/metrics`, in the service's event loop.

In the loop on purpose: a loop blocked for good also stops answering `/healthz`, which is what a
liveness probe should notice. GET only, one request per connection, no body read: nothing else is
served on this port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST

log = structlog.get_logger(__name__)

READ_TIMEOUT_S = 5.0
MAX_REQUEST_LINE = 8192
MAX_HEADERS = 100


@dataclass(frozen=True)
class Probe:
    """A probe's answer: ready or not, and why (small JSON, never personal data)."""

    ok: bool
    detail: dict[str, Any]


class OpsServer:
    def __init__(self, host: str, port: int, *, ready: Callable[[], Awaitable[Probe]],
                 metrics: Callable[[], Awaitable[bytes]]) -> None:
        self._host = host
        self._port = port
        self._ready = ready
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (the one asked for, or the one the system chose for port 0 in tests)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port, limit=MAX_REQUEST_LINE)
        log.info("ops_server_started", host=self._host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)
            method, path = [*line.decode("latin-1").split(), "", ""][:2]
            await asyncio.wait_for(_skip_headers(reader), READ_TIMEOUT_S)
            status, content_type, body = await self._answer(method, path.split("?", 1)[0])
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a client that went away or sent nothing usable
        except Exception as exc:  # never let a probe take the service down
            log.error("ops_request_failed", error=type(exc).__name__, detail=str(exc)[:200])
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            probe = await self._ready()
            status = "200 OK" if probe.ok else "503 Service Unavailable"
            return status, "application/json", json.dumps({"ready": probe.ok, **probe.detail}).encode()
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, await self._metrics()
        return "404 Not Found", "text/plain", b"not found\n"


async def _skip_headers(reader: asyncio.StreamReader) -> None:
    # Read to the blank line: closing with unread bytes would reset the connection under the answer.
    for _ in range(MAX_HEADERS):
        if (await reader.readline()).strip() == b"":
            return
    raise ValueError("too many headers")
