"""Planner statistics refreshed on demand, for batch work that runs right after a table grew fast.

Autovacuum analyzes a table some time after it changed (its naptime, its queue, a busy machine): a statement
planned in between sees the old row counts (a table of 0 rows planned as tiny when it holds 40,000) and may pick
nested loops that run for minutes. A batch job calls this before its transaction: the tables that changed a lot
since their last analyze are analyzed now, the others cost one catalog read.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from aplypro_servicekit.db import Connection, check_schema_name

__all__ = ["LOCK_TIMEOUT_MS", "refresh_stale_statistics"]

LOCK_TIMEOUT_MS = 1000  # how long an ANALYZE may wait for its table
_CHANGES = """
SELECT s.relname, s.n_mod_since_analyze, greatest(c.reltuples, 0) AS reltuples
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = $1 AND ($2::text[] IS NULL OR s.relname = ANY($2::text[]))
ORDER BY s.relname
"""


async def refresh_stale_statistics(conn: Connection, schema: str, *, tables: Sequence[str] | None = None,
                                   min_changes: int = 1000, ratio: float = 0.2) -> list[str]:
    """ANALYZE the tables of `schema` (only `tables` when given) with at least `min_changes` rows inserted,
    updated or deleted since their last analyze and more than `ratio` times the rows the planner believes they
    hold (pg_class.reltuples; a never-analyzed table counts as empty). Returns the tables analyzed, by name: a table
another session holds (a VACUUM, an index build) is skipped after LOCK_TIMEOUT_MS.

    Call it outside any long transaction (ANALYZE commits on its own in autocommit, and its lock would be held
    to the end of the caller's transaction otherwise). The counters are the statistics system's: a change
    committed in the last second may not be counted yet."""
    check_schema_name(schema)
    rows = await conn.fetch(_CHANGES, schema, list(tables) if tables is not None else None)
    stale = [r["relname"] for r in rows
             if r["n_mod_since_analyze"] >= min_changes and r["n_mod_since_analyze"] > ratio * r["reltuples"]]
    analyzed = []
    for table in stale:
        try:
            async with conn.transaction():
                # A VACUUM or an index build holding the table: skipped, never waited for (the caller's batch
                # would wait with it); the next call tries again.
                await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
                await conn.execute(f"ANALYZE {_quoted(schema)}.{_quoted(table)}")
        except asyncpg.LockNotAvailableError:
            continue
        analyzed.append(table)
    return analyzed


def _quoted(name: str) -> str:
    """An identifier as SQL text (a name read back from the catalog may hold any character)."""
    return '"' + name.replace('"', '""') + '"'
