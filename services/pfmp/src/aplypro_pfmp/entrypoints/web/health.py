"""`/healthz` and `/readyz` of the web process, for the kubelet's probes (deploy/k8s/web.yaml): no login, no
session, nothing about anyone. Live: the event loop answers. Ready: pfmp's database answers and every pfmp
migration is applied; a web process that does not migrate (APLYPRO_WEB_MIGRATE=false, its own database role)
stays unready until `aplypro-pfmp run` has migrated the schema."""

from __future__ import annotations

import asyncpg
from aplypro_servicekit.ops import expected_migrations
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


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    expected = expected_migrations(MIGRATION_PACKAGES)

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"live": True})

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        try:
            applied = await applied_migrations(request.app.state.pool)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return JSONResponse({"ready": False, "database": False, "database_error": type(exc).__name__},
                                status_code=503)
        missing = len(expected - applied)
        return JSONResponse({"ready": not missing, "database": True, "missing_migrations": missing},
                            status_code=503 if missing else 200)

    return router
