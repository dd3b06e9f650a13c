"""Transient means transient: every PostgreSQL error that passes with time is retried with backoff and,
past the last attempt, nacked; it is never dead-lettered. Real PostgreSQL where the error can be caused
(statement_timeout, lock_timeout), asyncpg's own exception for a SQLSTATE otherwise (a full disk)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import default_registry, to_wire
from aplypro_contracts.examples import examples
from aplypro_servicekit.consumer import EventConsumer
from aplypro_servicekit.db import Connection, create_pool, migrate

pytestmark = pytest.mark.integration

# Every SQLSTATE the consumer must treat as transient; 08999 and 53999 have no asyncpg class of their own
# (UnknownPostgresError): only their SQLSTATE says what they are.
TRANSIENT_SQLSTATES = [
    "57014", "55P03", "40001", "40P01",
    "08000", "08001", "08003", "08004", "08006", "08007", "08P01", "08999",
    "53000", "53100", "53200", "53300", "53400", "53999",
]


def postgres_error(sqlstate: str) -> asyncpg.PostgresError:
    """The exception asyncpg raises when the server answers with this SQLSTATE."""
    exc = asyncpg.PostgresError.new({"C": sqlstate, "M": "injected", "S": "ERROR"})
    assert exc.sqlstate == sqlstate
    return exc


def record(event: Any, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    body, headers = to_wire(event)
    return ConsumerRecord("source", 0, offset, 0, 0, b"k", body, None, 1, len(body), list(headers.items()))


PFMP_RECORDED = next(e for e in examples() if e.event_type == "PfmpRecorded")


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = namespace.replace(".", "_") + "transient"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE applied (event_id uuid NOT NULL)")
        await conn.execute("CREATE TABLE locked (id int PRIMARY KEY, n int NOT NULL)")
        await conn.execute("INSERT INTO locked VALUES (1, 0)")
    yield pool
    await pool.close()


def consumer(pool: asyncpg.Pool, handler: Any, attempts: int = 6) -> EventConsumer:
    return EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                         handlers={"PfmpRecorded": handler}, transient_attempts=attempts, backoff_base=0.01)


async def outcome(pool: asyncpg.Pool) -> tuple[int, int]:
    """(times the event was applied, dead letters written)."""
    async with pool.acquire() as conn:
        return (await conn.fetchval("SELECT count(*) FROM applied"),
                await conn.fetchval("SELECT count(*) FROM outbox"))


async def apply(conn: Connection, event: Any) -> None:
    await conn.execute("INSERT INTO applied VALUES ($1)", event.event_id)


@pytest.mark.parametrize("sqlstate", TRANSIENT_SQLSTATES)
async def test_an_error_of_a_transient_sqlstate_is_retried_and_the_event_applied_once(
    pool: asyncpg.Pool, sqlstate: str
) -> None:
    calls = 0

    async def fails_twice(conn: Connection, event: Any) -> None:
        nonlocal calls
        calls += 1
        await apply(conn, event)  # undone with the failed attempt
        if calls <= 2:
            raise postgres_error(sqlstate)

    await consumer(pool, fails_twice).process_batch([record(PFMP_RECORDED)])
    assert calls == 3
    assert await outcome(pool) == (1, 0)  # applied once, nothing dead-lettered


@pytest.mark.parametrize("sqlstate", ["57014", "53100", "08006"])
async def test_a_transient_error_past_the_last_attempt_nacks_the_batch_without_a_dead_letter(
    pool: asyncpg.Pool, sqlstate: str
) -> None:
    async def always(conn: Connection, event: Any) -> None:
        raise postgres_error(sqlstate)

    with pytest.raises(asyncpg.PostgresError):
        await consumer(pool, always, attempts=3).process_batch([record(PFMP_RECORDED)])
    assert await outcome(pool) == (0, 0)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM processed_messages") == 0  # read again later


async def test_a_statement_timeout_is_retried_and_the_event_applied_once(pool: asyncpg.Pool) -> None:
    errors: list[str] = []

    async def slow_twice(conn: Connection, event: Any) -> None:
        await apply(conn, event)
        if len(errors) < 2:
            await conn.execute("SET LOCAL statement_timeout = '50ms'")
            try:
                await conn.execute("SELECT pg_sleep(5)")
            except asyncpg.PostgresError as exc:
                errors.append(exc.sqlstate)
                raise

    await consumer(pool, slow_twice).process_batch([record(PFMP_RECORDED)])
    assert errors == ["57014", "57014"]  # QueryCanceledError, raised by the real server
    assert await outcome(pool) == (1, 0)


async def test_a_lock_timeout_on_a_row_locked_elsewhere_is_retried_until_the_lock_is_gone(
    pool: asyncpg.Pool, database_url: str
) -> None:
    schema = await pool.fetchval("SELECT current_schema()")
    locker = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    holder = locker.transaction()
    await holder.start()
    await locker.execute("SELECT * FROM locked WHERE id = 1 FOR UPDATE")  # another instance holds the row
    errors: list[str] = []

    async def update_locked_row(conn: Connection, event: Any) -> None:
        await conn.execute("SET LOCAL lock_timeout = '50ms'")
        try:
            await conn.execute("UPDATE locked SET n = n + 1 WHERE id = 1")
        except asyncpg.PostgresError as exc:
            errors.append(exc.sqlstate)
            if len(errors) == 2:
                await holder.commit()  # the other transaction ends: the next attempt gets the row
            raise
        await apply(conn, event)

    try:
        await asyncio.wait_for(consumer(pool, update_locked_row).process_batch([record(PFMP_RECORDED)]), 30)
    finally:
        await locker.close()
    assert errors == ["55P03", "55P03"]  # LockNotAvailableError, raised by the real server
    assert await outcome(pool) == (1, 0)
    assert await pool.fetchval("SELECT n FROM locked WHERE id = 1") == 1
