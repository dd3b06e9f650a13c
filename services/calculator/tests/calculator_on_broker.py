"""The calculator as a real process on the suite's real broker and database, and the state of a PFMP's latest
payment request as it holds it: shared by the over-Kafka tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aplypro_local.stack import LocalStack


@dataclass
class CalculatorProcess:
    stack: LocalStack
    conn: asyncpg.Connection
    schema: str

    async def request_of(self, pfmp_id: uuid.UUID) -> dict[str, Any] | None:
        """The PFMP's latest request; None before the calculator created its tables or the request."""
        try:
            row = await self.conn.fetchrow(f"SELECT * FROM {self.schema}.payment_requests WHERE pfmp_id = $1 "
                                           "ORDER BY seq DESC LIMIT 1", pfmp_id)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return None
        return None if row is None else dict(row)

    async def state_of(self, pfmp_id: uuid.UUID) -> tuple[str, list[str]] | None:
        row = await self.request_of(pfmp_id)
        return None if row is None else (row["state"], list(row["reasons"]))

    def request_is(self, pfmp_id: uuid.UUID, expected: tuple[str, list[str]]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await self.state_of(pfmp_id) == expected
        return check


@asynccontextmanager
async def calculator_process(service_env: dict[str, str], tmp_path: Path) -> AsyncIterator[CalculatorProcess]:
    """Started in its own schema; on exit stopped, and it must still have been alive."""
    stack = LocalStack(tmp_path, extra_env=service_env)
    stack.start_servers()
    stack.start_service("calculator")
    conn = await asyncpg.connect(service_env["DATABASE_URL"])
    try:
        yield CalculatorProcess(stack, conn, f"{stack.schema_prefix}calculator")
    finally:
        await conn.close()
        alive = stack.alive()
        stack.stop()
    assert alive == {"calculator": True}
