"""One-shot database access for CLI commands: pool, migrations, one transaction, clean close."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aplypro_servicekit.db import Connection, create_pool, migrate

from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.service import MIGRATION_PACKAGES

T = TypeVar("T")
Work = Callable[[Connection, str], Awaitable[T]]


async def in_transaction(settings: StudentsSettings, work: Work[T]) -> T:
    """Runs `work(conn, schema)` in one transaction: an exception rolls everything back."""
    schema = settings.db_schema("students")
    pool = await create_pool(settings.database_url, schema, size=2)
    try:
        await migrate(pool, schema, ["aplypro_servicekit", *MIGRATION_PACKAGES])
        async with pool.acquire() as conn, conn.transaction():
            return await work(conn, schema)
    finally:
        await pool.close()
