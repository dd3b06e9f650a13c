"""A table that grew past the threshold since its last analyze is analyzed on demand (its planner row count
follows); a table analyzed since its changes, or changed too little, is left alone."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aplypro_servicekit.db import create_pool
from aplypro_servicekit.statistics import refresh_stale_statistics

pytestmark = pytest.mark.integration


async def planned_rows(conn: asyncpg.pool.PoolConnectionProxy, schema: str, table: str) -> float:
    value: float = await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = $1::regclass",
                                       f"{schema}.{table}")
    return value


async def counted(conn: asyncpg.pool.PoolConnectionProxy) -> None:
    """This backend's pending change counters flushed to the shared statistics, as they are within a second."""
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await conn.execute("SELECT 1")  # the flush happens at the end of a transaction


async def test_a_table_that_grew_is_analyzed_and_a_fresh_or_quiet_one_is_left_alone(
    database_url: str, namespace: str,
) -> None:
    schema = namespace.replace(".", "_") + "stats"
    pool = await create_pool(database_url, schema)
    try:
        async with pool.acquire() as conn:
            for table in ("grown", "fresh", "quiet"):
                # Autovacuum left out: the test decides when each table was last analyzed.
                await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY) WITH (autovacuum_enabled = off)")
            await conn.execute("INSERT INTO quiet SELECT g FROM generate_series(1, 5000) g")
            await counted(conn)
            await conn.execute("ANALYZE quiet")
            await conn.execute("INSERT INTO grown SELECT g FROM generate_series(1, 5000) g")
            await counted(conn)
            await conn.execute("INSERT INTO fresh SELECT g FROM generate_series(1, 5000) g")
            await counted(conn)
            await conn.execute("ANALYZE fresh")
            await conn.execute("INSERT INTO quiet SELECT g FROM generate_series(5001, 5100) g")  # under 1,000
            await counted(conn)
            assert await planned_rows(conn, schema, "grown") < 0  # never analyzed

            analyzed = await refresh_stale_statistics(conn, schema, min_changes=1000, ratio=0.2)

            assert analyzed == ["grown"]
            assert await planned_rows(conn, schema, "grown") == 5000
            assert await planned_rows(conn, schema, "quiet") == 5000  # its 100 new rows: not worth an analyze
            # `tables` narrows the look: a grown table outside it waits for autovacuum.
            await conn.execute("INSERT INTO fresh SELECT g FROM generate_series(5001, 15000) g")
            await counted(conn)
            assert await refresh_stale_statistics(conn, schema, tables=["grown", "quiet"]) == []
            assert await refresh_stale_statistics(conn, schema, tables=["fresh"]) == ["fresh"]
            assert await planned_rows(conn, schema, "fresh") == 15000
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()


async def test_a_table_another_session_holds_is_skipped_not_waited_for(database_url: str, namespace: str) -> None:
    schema = namespace.replace(".", "_") + "statsheld"
    pool = await create_pool(database_url, schema)
    try:
        async with pool.acquire() as conn, pool.acquire() as holder:
            await conn.execute("CREATE TABLE grown (id int PRIMARY KEY) WITH (autovacuum_enabled = off)")
            await conn.execute("INSERT INTO grown SELECT g FROM generate_series(1, 5000) g")
            await counted(conn)
            async with holder.transaction():
                # What a VACUUM or an index build holds: ANALYZE's own lock level conflicts with it.
                await holder.execute(f"LOCK TABLE {schema}.grown IN SHARE UPDATE EXCLUSIVE MODE")
                started = asyncio.get_running_loop().time()
                assert await refresh_stale_statistics(conn, schema) == []
                assert asyncio.get_running_loop().time() - started < 5  # LOCK_TIMEOUT_MS, not the holder's time
            assert await refresh_stale_statistics(conn, schema) == ["grown"]  # free again: the next call does it
            assert await planned_rows(conn, schema, "grown") == 5000
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()
