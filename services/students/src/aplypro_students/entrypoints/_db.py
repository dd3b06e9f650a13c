"""One-shot database access for CLI commands: pool, migrations, one transaction, clean close."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aplypro_servicekit.cli import service_pool
from aplypro_servicekit.db import Connection

from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.service import MIGRATION_PACKAGES

T = TypeVar("T")
Work = Callable[[Connection], Awaitable[T]]


async def in_transaction(settings: StudentsSettings, work: Work[T]) -> T:
    """Runs `work(conn)` in one transaction: an exception rolls everything back."""
    async with service_pool(settings, "students", MIGRATION_PACKAGES) as (pool, _schema):
        async with pool.acquire() as conn, conn.transaction():
            return await work(conn)
