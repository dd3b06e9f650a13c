"""PostgreSQL pool per service schema, and versioned SQL migrations applied at start."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
from pydantic_core import to_json

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def application_name(schema: str, role: str | None = None, argv: Sequence[str] | None = None) -> str:
    """Who a connection is, in `pg_stat_activity`: the schema and the role or command (`pfmp relay`, `pfmp run`,
    `pfmp validate`), so an operator (and bench/national_cpu.py) can tell which service and which of its parts a
    backend works for. A spawned process (argv is python's) without a role shows as `worker`."""
    argv = sys.argv if argv is None else argv
    program = Path(argv[0]).name if argv else ""
    if role is None:
        role = next((a for a in argv[1:] if not a.startswith("-")), "run") if program.startswith("aplypro") else "worker"
    return f"{schema} {role}"[:63]  # PostgreSQL's NAMEDATALEN


async def create_pool(database_url: str, schema: str, *, size: int = 5, role: str | None = None) -> asyncpg.Pool:
    """A pool whose connections see only this service's schema (search_path), named for pg_stat_activity."""
    check_schema_name(schema)
    conn = await asyncpg.connect(database_url)
    try:
        # Looked up first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema
        # exists, which a production role owning only its schema (deploy/k8s/postgres-roles) does not have.
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    except (asyncpg.UniqueViolationError, asyncpg.DuplicateSchemaError):
        pass  # two processes of one service started together: IF NOT EXISTS is not atomic in PostgreSQL
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=size,
        server_settings={"search_path": schema, "application_name": application_name(schema, role)},
    )
    assert pool is not None
    return pool


def _migration_files(package: str) -> list[tuple[str, str]]:
    folder = resources.files(package) / "migrations"
    files = sorted((f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".sql"))
    return files


async def migrate(pool: asyncpg.Pool, schema: str, packages: list[str]) -> list[str]:
    """Apply, in order, the SQL files of each package's `migrations/` not yet applied; returns them."""
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        # One migrator at a time per schema, even with several instances starting together.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for package in packages:
            for name, sql in _migration_files(package):
                key = f"{package}:{name}"
                if key in done:
                    continue
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", key)
                applied.append(key)
    return applied


# What handlers receive: a plain connection or a pooled one (both behave the same).
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


def json_rows(rows: Iterable[Sequence[Any]]) -> str:
    """A batch of rows as one JSON parameter, read back with `json_columns`.

    One array parameter per column costs the client a Python check per element (a thousand rows of ten
    columns: ~3 ms of CPU); one JSON document costs it almost nothing (pydantic-core writes UUIDs, dates,
    timestamps and nested lists natively) and PostgreSQL reads it as fast as the arrays.
    """
    return to_json(list(rows)).decode()


def json_columns(types: Sequence[str], alias: str = "r") -> str:
    """`(r->>0)::uuid, (r->>1)::date, …` for `SELECT … FROM jsonb_array_elements($n::jsonb) AS r`;
    a `jsonb` column keeps its JSON value (`r->i`)."""
    return ", ".join(f"{alias}->{i}" if t == "jsonb" else f"({alias}->>{i})::{t}" for i, t in enumerate(types))
