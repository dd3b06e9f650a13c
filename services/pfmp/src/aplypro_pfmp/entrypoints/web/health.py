"""`/healthz` and `/readyz` of the web process, for the kubelet's probes (deploy/k8s/web.yaml): no login, no
session, nothing about anyone. Live: the event loop answers. Ready: pfmp's database answers and every pfmp
migration is applied; a web process that does not migrate (APLYPRO_WEB_MIGRATE=false, its own database role)
stays unready until `aplypro-pfmp run` has migrated the schema."""

from __future__ import annotations

from functools import cache

import asyncpg
from aplypro_servicekit.ops import expected_migrations
from aplypro_servicekit.ops_server import Probe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

MIGRATION_PACKAGES = ["aplypro_servicekit", "aplypro_pfmp"]
CHECK_TIMEOUT_S = 3.0  # under the probes' timeoutSeconds


async def applied_migrations(pool: asyncpg.Pool) -> set[str]:
    async with pool.acquire(timeout=CHECK_TIMEOUT_S) as conn:
        try:
            rows = await conn.fetch("SELECT name FROM schema_migrations", timeout=CHECK_TIMEOUT_S)
        except asyncpg.UndefinedTableError:  # the schema was never migrated
            return set()
    return {r["name"] for r in rows}


@cache
def _expected() -> frozenset[str]:
    return frozenset(expected_migrations(MIGRATION_PACKAGES))


async def readiness(pool: asyncpg.Pool) -> Probe:
    """Ready: the database answers and carries every pfmp migration (also the ops port's /readyz)."""
    try:
        applied = await applied_migrations(pool)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return Probe(False, {"database": False, "database_error": type(exc).__name__})
    missing = len(_expected() - applied)
    return Probe(not missing, {"database": True, "missing_migrations": missing})


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"live": True})

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        probe = await readiness(request.app.state.pool)
        return JSONResponse({"ready": probe.ok, **probe.detail}, status_code=200 if probe.ok else 503)

    return router
