"""Shared steps of the tests of the fake ASP's §10 options: requests sent over SFTP with `send`, returns read
with `poll`, and what the gateway's database then says (states, events, unmatched lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from .published import outbox_events
from .test_sftp_returns_and_send import poll_cli, send, students_requesting

__all__ = ["events", "exchange", "poll_cli", "record_ids", "send", "states", "students_requesting", "unmatched"]


async def states(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT state, count(*) AS n FROM payment_requests GROUP BY state")
    return {r["state"]: r["n"] for r in rows}


async def events(pool: asyncpg.Pool) -> int:
    """PaymentRequestStateChanged written for the ASP's answers: one per move, never two for one answer (the
    build's `ready`, the RIB frozen in the file, is not an answer)."""
    return sum(e.state != "ready" for e in await outbox_events(pool, "PaymentRequestStateChanged"))


async def unmatched(pool: asyncpg.Pool) -> list[tuple[int | None, str]]:
    rows = await pool.fetch("SELECT record_id, why FROM unmatched_return_lines ORDER BY file_name, line_no")
    return [(r["record_id"], r["why"]) for r in rows]


async def record_ids(pool: asyncpg.Pool) -> list[int]:
    return [r["record_id"] for r in await pool.fetch("SELECT record_id FROM file_records ORDER BY record_id")]


class Exchange:
    """`send` and `poll` on the test's schema against one fake ASP."""

    def __init__(self, database_url: str, namespace: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.database_url, self.namespace, self.tmp_path, self.env = database_url, namespace, tmp_path, env

    async def send(self) -> list[dict[str, Any]]:
        return await send(self.database_url, self.namespace, self.tmp_path, **self.env)

    async def poll(self) -> list[dict[str, Any]]:
        return await poll_cli(self.database_url, self.namespace, self.tmp_path, **self.env)


def exchange(database_url: str, namespace: str, tmp_path: Path, env: dict[str, str]) -> Exchange:
    return Exchange(database_url, namespace, tmp_path, env)
