"""Helpers every service CLI shares: run the service process with logging configured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg

from .db import create_pool, migrate
from .gc_tuning import tune_gc
from .logs import configure_logging
from .runtime import ServiceRuntime, ServiceSpec
from .settings import ServiceSettings
from .tracing import configure_tracing, flush

S = TypeVar("S", bound=ServiceSettings)


def run_service(build_spec: Callable[[S], ServiceSpec], settings: S) -> None:
    """Run the service built by `build_spec` (a module-level function: extra consumer processes import
    it to build their own copy)."""
    tune_gc()
    spec = build_spec(settings)
    configure_logging(spec.name, settings.log_level, settings.log_json)
    configure_tracing(spec.name, settings.otel_enabled)
    asyncio.run(ServiceRuntime(spec, settings, factory=build_spec).run_until_signalled())


@asynccontextmanager
async def service_pool(settings: ServiceSettings, schema_name: str, migration_packages: Sequence[str],
                       *, size: int = 2) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """For one-shot commands: a pool on the service's (migrated) schema, closed afterwards."""
    schema = settings.db_schema(schema_name)
    # Tracing on, what the command writes to the outbox starts a trace (`tracing.root_traceparent`).
    configure_tracing(schema_name.replace("_", "-"), settings.otel_enabled)
    pool = await create_pool(settings.database_url, schema, size=size)
    try:
        await migrate(pool, schema, ["aplypro_servicekit", *migration_packages])
        yield pool, schema
    finally:
        await pool.close()
        flush()
