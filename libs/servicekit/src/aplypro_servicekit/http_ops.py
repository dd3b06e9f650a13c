"""The ops port of an HTTP process (the web application, the internal APIs): `/metrics`, `/healthz` and
`/readyz` on a port of their own (ops_server.py, as the consumers), never on the port the application
answers on, so a route to the application (the Ingress) never reaches the metrics.

One process per pod: uvicorn runs a single worker (the pods scale by replicas), so this process's registry
is the whole of it; no multiprocess mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
from prometheus_client import REGISTRY, generate_latest

from .ops_server import OpsServer, Probe

CHECK_TIMEOUT_S = 3.0  # under the probes' timeoutSeconds (deploy/k8s)


async def exposition() -> bytes:
    """This process's registry: its own metrics and prometheus-client's process, platform and GC collectors."""
    return generate_latest(REGISTRY)


def pool_answers(pool: asyncpg.Pool) -> Callable[[], Awaitable[Probe]]:
    """Ready when the process's database pool answers (its start-up, pool and migrations, is then done)."""

    async def ready() -> Probe:
        try:
            async with pool.acquire(timeout=CHECK_TIMEOUT_S) as conn:
                await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return Probe(False, {"database": False, "database_error": type(exc).__name__})
        return Probe(True, {"database": True})

    return ready


@asynccontextmanager
async def ops_port(host: str, port: int, ready: Callable[[], Awaitable[Probe]]) -> AsyncIterator[OpsServer | None]:
    """Serve the ops port for the lifespan of the application; port 0: none (yields None)."""
    if not port:
        yield None
        return
    server = OpsServer(host, port, ready=ready, metrics=exposition)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
