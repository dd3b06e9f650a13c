"""Rows a batch fold writes back (projection_batch.py, state_batch.py): those it read locked updated, the others
inserted, one statement each, the columns passed as arrays (unnest)."""

from __future__ import annotations

from typing import Any

import asyncpg
from aplypro_servicekit.db import Connection

Row = dict[str, Any]


def unnest(types: tuple[str, ...]) -> str:
    return "unnest(" + ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, 1)) + ")"


def arrays(rows: list[Row], columns: tuple[str, ...]) -> list[list[Any]]:
    return [[row[c] for row in rows] for c in columns]


class InsertedMeanwhile(asyncpg.SerializationError):
    """A row the batch read as absent was inserted by another transaction (another lane or instance) before the
    batch wrote it: the batch is tried again (a transient error), and then reads that row locked. Overwriting it
    could put an older state over a newer one (a merged student's PFMP events come under two keys)."""


async def insert_new(conn: Connection, table: str, columns: tuple[str, ...], types: tuple[str, ...],
                     rows: list[Row], conflict: str) -> None:
    if not rows:
        return
    inserted = await conn.fetch(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM {unnest(types)} "
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING 1", *arrays(rows, columns))
    if len(inserted) != len(rows):
        raise InsertedMeanwhile(f"a {table} row was inserted by another transaction; batch retried")


async def update_held(conn: Connection, table: str, columns: tuple[str, ...], types: tuple[str, ...],
                      rows: list[Row], keys: tuple[str, ...]) -> None:
    """Rows the batch read FOR UPDATE: still locked, so written back as they are."""
    if not rows:
        return
    sets = ", ".join(f"{c} = u.{c}" for c in columns if c not in keys)
    match = " AND ".join(f"t.{k} = u.{k}" for k in keys)
    await conn.execute(f"UPDATE {table} t SET {sets} FROM {unnest(types)} AS u({', '.join(columns)}) WHERE {match}",
                       *arrays(rows, columns))
