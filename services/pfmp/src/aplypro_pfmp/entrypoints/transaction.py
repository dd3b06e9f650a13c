"""One CLI command's work in one transaction, undone as a whole when its outcome asks (all or nothing)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from aplypro_servicekit.cli import service_pool
from aplypro_servicekit.db import Connection

from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.domain.pfmp import PfmpError

T = TypeVar("T")


class _Rollback(Exception):
    """Raised inside the transaction to undo a batch with a refusal: one error writes nothing."""


def all_or_nothing(work: Callable[[Connection, PfmpSettings], Awaitable[T]], undo: Callable[[T], bool]) -> T:
    """Run `work` in one transaction and return its outcome; roll it back when `undo(outcome)`.
    A PfmpError is printed as `<code>: <message>` and exits 1."""
    async def go() -> T:
        settings = PfmpSettings()
        result: T
        async with service_pool(settings, "pfmp", ["aplypro_pfmp"]) as (pool, _):
            try:
                async with pool.acquire() as conn, conn.transaction():
                    result = await work(conn, settings)
                    if undo(result):
                        raise _Rollback
            except _Rollback:
                pass
        return result

    try:
        return asyncio.run(go())
    except PfmpError as exc:
        typer.echo(f"{exc.code}: {exc}", err=True)
        raise typer.Exit(1) from None
