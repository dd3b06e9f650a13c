"""What the ops endpoints report: readiness checks, and the gauges read when Prometheus scrapes.

Ready means: the database answers and has every migration this service ships, the broker answers, and
every consumer group of this process had its first partition assignment. The database is checked on a
connection of its own, not the service's pool: a pool busy with batches is not an unreachable database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from importlib import resources
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from .metrics import CONSUMER_LAG, CONSUMER_PARTITIONS, OUTBOX_DEPTH, OUTBOX_OLDEST_AGE, STALE_DROPPED
from .ops_server import Probe
from .schema_gauges import SCHEMA_GAUGES, SchemaGauge

log = structlog.get_logger(__name__)

CHECK_TIMEOUT_S = 3.0  # under the probes' timeoutSeconds (deploy/k8s)
POSITION_TIMEOUT_S = 0.5

_OUTBOX = ("SELECT coalesce(sum(size), 0)::bigint AS depth, "
           "coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest FROM outbox_batch")
_STALE = "SELECT event_type, dropped FROM stale_events"  # the services' convention (their migrations)


def expected_migrations(packages: Sequence[str]) -> set[str]:
    """The `schema_migrations` names `db.migrate` records for these packages."""
    return {f"{package}:{f.name}" for package in packages
            for f in (resources.files(package) / "migrations").iterdir() if f.name.endswith(".sql")}


@contextlib.asynccontextmanager
async def _connection(database_url: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url, timeout=CHECK_TIMEOUT_S, server_settings={"search_path": schema})
    try:
        yield conn
    finally:
        await conn.close(timeout=CHECK_TIMEOUT_S)


async def _database(database_url: str, schema: str, migrations: set[str]) -> dict[str, Any]:
    try:
        async with _connection(database_url, schema) as conn:
            applied = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations",
                                                           timeout=CHECK_TIMEOUT_S)}
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return {"database": False, "migrations": False, "database_error": type(exc).__name__}
    missing = sorted(migrations - applied)
    return {"database": True, "migrations": not missing, **({"missing_migrations": missing} if missing else {})}


async def readiness(*, database_url: str, schema: str, migrations: set[str], broker: KafkaBroker | None,
                    joined: bool) -> Probe:
    database, broker_ok = await asyncio.gather(
        _database(database_url, schema, migrations),
        broker.ping(timeout=CHECK_TIMEOUT_S) if broker is not None else asyncio.sleep(0, False),
    )
    detail = {**database, "broker": bool(broker_ok), "consumers_assigned": joined}
    return Probe(database["database"] and database["migrations"] and bool(broker_ok) and joined, detail)


async def refresh_schema_gauges(database_url: str, schema: str, gauges: Sequence[SchemaGauge] = ()) -> None:
    """Outbox depth, its oldest row's age, the stale events dropped and the service's own gauges, read
    now (left as they were if the database does not answer)."""
    with contextlib.suppress(OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        async with _connection(database_url, schema) as conn:
            row = await conn.fetchrow(_OUTBOX, timeout=CHECK_TIMEOUT_S)
            stale = await conn.fetch(_STALE, timeout=CHECK_TIMEOUT_S) if await conn.fetchval(
                "SELECT to_regclass('stale_events') IS NOT NULL", timeout=CHECK_TIMEOUT_S) else []
            for gauge in gauges:
                await _read_gauge(conn, gauge)
        assert row is not None
        OUTBOX_DEPTH.set(row["depth"])
        OUTBOX_OLDEST_AGE.set(row["oldest"])
        STALE_DROPPED.by_type = {r["event_type"]: int(r["dropped"]) for r in stale}


async def _read_gauge(conn: asyncpg.Connection, gauge: SchemaGauge) -> None:
    """One gauge; a query that fails (a table not migrated yet) leaves only that gauge empty."""
    try:
        rows = await conn.fetch(gauge.sql, timeout=CHECK_TIMEOUT_S)
    except asyncpg.PostgresError as exc:
        log.warning("schema_gauge_failed", gauge=gauge.name, error=type(exc).__name__)
        rows = []
    SCHEMA_GAUGES.update(gauge, rows)


async def refresh_consumers(broker: KafkaBroker | None) -> None:
    """Partitions assigned to this process per group, and each one's lag (high watermark − position)."""
    CONSUMER_LAG.clear()  # partitions moved to another member stop being reported here
    if broker is None:
        return
    lags = []
    for subscriber in broker.subscribers:
        consumer: Any = getattr(subscriber, "consumer", None)
        group = str(getattr(subscriber, "group_id", "") or "")
        assigned = consumer.assignment() if consumer is not None else set()
        CONSUMER_PARTITIONS.labels(group).set(len(assigned))
        lags += [_lag(consumer, group, tp) for tp in assigned]
    await asyncio.gather(*lags)  # side by side: a scrape waits POSITION_TIMEOUT_S at most


async def _lag(consumer: Any, group: str, tp: Any) -> None:
    with contextlib.suppress(Exception):  # not fetched yet, or rebalancing: the next scrape has it
        highwater = consumer.highwater(tp)
        if highwater is None:
            return
        position = await asyncio.wait_for(consumer.position(tp), POSITION_TIMEOUT_S)
        CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(max(0, highwater - position))
