"""SQL of the liquidation inputs a batch at a time (projection_batch.py): bank accounts and PFMPs read locked, the
changed rows written back, payment requests inserted and their états liquidatifs queued, one statement each.

Bank details are personal data: read here only to be written back, never logged.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

import asyncpg
from aplypro_servicekit.db import Connection

Row = dict[str, Any]
RIB_COLUMNS = ("student_id", "establishment_uai", "rib_id", "owner_type", "holder_name", "iban", "bic", "recorded_at",
               "version", "archived")
_RIB_TYPES = ("uuid", "text", "uuid", "text", "text", "text", "text", "timestamptz", "int", "boolean")
PFMP_COLUMNS = ("pfmp_id", "schooling_id", "student_id", "start_date", "end_date", "status", "rank", "deleted",
                "validated_on", "version")
_PFMP_TYPES = ("uuid", "uuid", "uuid", "date", "date", "text", "int", "boolean", "date", "int")
REQUEST_COLUMNS = ("payment_request_id", "pfmp_id", "schooling_id", "amount_cents", "day_count", "pfmp_rank",
                   "requested_at")
_REQUEST_TYPES = ("uuid", "uuid", "uuid", "int", "int", "int", "timestamptz")


def _unnest(types: tuple[str, ...]) -> str:
    return "unnest(" + ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, 1)) + ")"


def _arrays(rows: list[Row], columns: tuple[str, ...]) -> list[list[Any]]:
    return [[row[c] for row in rows] for c in columns]


async def ribs_for_update(conn: Connection, keys: list[tuple[UUID, str]], rib_ids: list[UUID]) -> list[Row]:
    """The accounts held under these (student, establishment) keys or these RIB ids, locked; the students' other
    accounts too (two index scans, where a filter on the pairs would not use an index beside the RIB ids')."""
    rows = await conn.fetch(
        f"SELECT {', '.join(RIB_COLUMNS)} FROM ribs WHERE student_id = ANY($1::uuid[]) OR rib_id = ANY($2::uuid[]) "
        "ORDER BY student_id, establishment_uai FOR UPDATE",  # in key order: two lanes never wait in a cycle
        list(dict.fromkeys(k[0] for k in keys)), rib_ids,
    )
    return [dict(r) for r in rows]


class InsertedMeanwhile(asyncpg.SerializationError):
    """A row the batch read as absent was inserted by another transaction (another lane or instance) before the
    batch wrote it: the batch is tried again (a transient error), and then reads that row locked. Overwriting it
    could put an older state over a newer one (a merged student's PFMP events come under two keys)."""


async def _insert_new(conn: Connection, table: str, columns: tuple[str, ...], types: tuple[str, ...],
                      rows: list[Row], conflict: str) -> None:
    if not rows:
        return
    inserted = await conn.fetch(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM {_unnest(types)} "
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING 1", *_arrays(rows, columns))
    if len(inserted) != len(rows):
        raise InsertedMeanwhile(f"a {table} row was inserted by another transaction; batch retried")


async def _update_held(conn: Connection, table: str, columns: tuple[str, ...], types: tuple[str, ...],
                       rows: list[Row], keys: tuple[str, ...]) -> None:
    """Rows the batch read FOR UPDATE: still locked, so written back as they are."""
    if not rows:
        return
    sets = ", ".join(f"{c} = u.{c}" for c in columns if c not in keys)
    match = " AND ".join(f"t.{k} = u.{k}" for k in keys)
    await conn.execute(f"UPDATE {table} t SET {sets} FROM {_unnest(types)} AS u({', '.join(columns)}) WHERE {match}",
                       *_arrays(rows, columns))


async def write_ribs(conn: Connection, rows: list[Row], held: set[tuple[UUID, str]]) -> None:
    """The changed accounts: those read locked (`held`, by (student, establishment)) updated, the others inserted."""
    read = [(r["student_id"], r["establishment_uai"]) in held for r in rows]
    await _update_held(conn, "ribs", RIB_COLUMNS, _RIB_TYPES, [r for r, was in zip(rows, read, strict=True) if was],
                       ("student_id", "establishment_uai"))
    await _insert_new(conn, "ribs", RIB_COLUMNS, _RIB_TYPES, [r for r, was in zip(rows, read, strict=True) if not was],
                      "student_id, establishment_uai")


async def pfmps_for_update(conn: Connection, pfmp_ids: list[UUID]) -> list[Row]:
    rows = await conn.fetch(f"SELECT {', '.join(PFMP_COLUMNS)} FROM pfmps WHERE pfmp_id = ANY($1::uuid[]) "
                            "ORDER BY pfmp_id FOR UPDATE",  # in key order: two lanes never wait in a cycle
                            pfmp_ids)
    return [dict(r) for r in rows]


async def write_pfmps(conn: Connection, rows: list[Row], held: set[UUID]) -> None:
    """Rows as the fold leaves them: those read locked (`held`) updated, the others inserted. A PFMP's schooling and
    student are the ones it was first recorded with, as upsert_pfmp keeps them; its number (given at issue) is not
    the projection's to write."""
    await _update_held(conn, "pfmps", PFMP_COLUMNS, _PFMP_TYPES, [r for r in rows if r["pfmp_id"] in held],
                       ("pfmp_id",))
    await _insert_new(conn, "pfmps", PFMP_COLUMNS, _PFMP_TYPES, [r for r in rows if r["pfmp_id"] not in held],
                      "pfmp_id")


async def insert_payment_requests(conn: Connection, rows: list[Row]) -> None:
    """insert_payment_request for many: the first of each id wins (the caller keeps the first of the batch)."""
    if rows:
        await conn.execute(
            f"INSERT INTO payment_requests ({', '.join(REQUEST_COLUMNS)}) SELECT * FROM {_unnest(_REQUEST_TYPES)} "
            "ON CONFLICT DO NOTHING",
            *_arrays(rows, REQUEST_COLUMNS),
        )


async def enqueue_liquidations(conn: Connection, schooling_ids: list[UUID]) -> None:
    """postgres.enqueue(…, LIQUIDATION) for many: one already queued stays as it is."""
    if schooling_ids:
        await conn.execute(
            "INSERT INTO render_queue (schooling_id, kind) SELECT s, 'liquidation' FROM unnest($1::uuid[]) s "
            "ON CONFLICT DO NOTHING",
            schooling_ids,
        )


async def count_stale(conn: Connection, dropped: Counter[str]) -> None:
    """postgres.count_stale for many event types at once."""
    if dropped:
        await conn.execute(
            "INSERT INTO stale_events SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (event_type) "
            "DO UPDATE SET dropped = stale_events.dropped + EXCLUDED.dropped",
            sorted(dropped), [dropped[t] for t in sorted(dropped)],  # in key order, as the reads
        )


async def set_pricings(conn: Connection, rows: list[tuple[UUID, bool, int | None, int | None]]) -> None:
    """postgres.set_pricing for many schoolings, one row each (the batch's last barème of each)."""
    if rows:
        await conn.execute(
            "INSERT INTO pricing SELECT * FROM unnest($1::uuid[], $2::boolean[], $3::int[], $4::int[]) "
            "ON CONFLICT (schooling_id) DO UPDATE SET priced = EXCLUDED.priced, "
            "daily_rate_cents = EXCLUDED.daily_rate_cents, yearly_cap_cents = EXCLUDED.yearly_cap_cents",
            *(list(column) for column in zip(*rows, strict=True)),
        )
