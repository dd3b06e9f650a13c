"""SQL of the liquidation inputs a batch at a time (projection_batch.py): bank accounts and PFMPs read locked, the
changed rows written back, payment requests inserted and their états liquidatifs queued, one statement each.

Bank details are personal data: read here only to be written back, never logged.
"""

from __future__ import annotations

from collections import Counter
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_documents.adapters.postgres_batch_rows import Row, arrays, insert_new, unnest, update_held

RIB_COLUMNS = ("student_id", "establishment_uai", "rib_id", "owner_type", "holder_name", "iban", "bic", "recorded_at",
               "version", "archived")
_RIB_TYPES = ("uuid", "text", "uuid", "text", "text", "text", "text", "timestamptz", "int", "boolean")
PFMP_COLUMNS = ("pfmp_id", "schooling_id", "student_id", "start_date", "end_date", "status", "rank", "deleted",
                "validated_on", "version")
_PFMP_TYPES = ("uuid", "uuid", "uuid", "date", "date", "text", "int", "boolean", "date", "int")
REQUEST_COLUMNS = ("payment_request_id", "pfmp_id", "schooling_id", "amount_cents", "day_count", "pfmp_rank",
                   "requested_at")
_REQUEST_TYPES = ("uuid", "uuid", "uuid", "int", "int", "int", "timestamptz")


async def ribs_for_update(conn: Connection, keys: list[tuple[UUID, str]], rib_ids: list[UUID]) -> list[Row]:
    """The accounts held under these (student, establishment) keys or these RIB ids, locked; the students' other
    accounts too (two index scans, where a filter on the pairs would not use an index beside the RIB ids')."""
    rows = await conn.fetch(
        f"SELECT {', '.join(RIB_COLUMNS)} FROM ribs WHERE student_id = ANY($1::uuid[]) OR rib_id = ANY($2::uuid[]) "
        "ORDER BY student_id, establishment_uai FOR UPDATE",  # in key order: two lanes never wait in a cycle
        list(dict.fromkeys(k[0] for k in keys)), rib_ids,
    )
    return [dict(r) for r in rows]


async def write_ribs(conn: Connection, rows: list[Row], held: set[tuple[UUID, str]]) -> None:
    """The changed accounts: those read locked (`held`, by (student, establishment)) updated, the others inserted."""
    read = [(r["student_id"], r["establishment_uai"]) in held for r in rows]
    await update_held(conn, "ribs", RIB_COLUMNS, _RIB_TYPES, [r for r, was in zip(rows, read, strict=True) if was],
                      ("student_id", "establishment_uai"))
    await insert_new(conn, "ribs", RIB_COLUMNS, _RIB_TYPES, [r for r, was in zip(rows, read, strict=True) if not was],
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
    await update_held(conn, "pfmps", PFMP_COLUMNS, _PFMP_TYPES, [r for r in rows if r["pfmp_id"] in held],
                      ("pfmp_id",))
    await insert_new(conn, "pfmps", PFMP_COLUMNS, _PFMP_TYPES, [r for r in rows if r["pfmp_id"] not in held],
                     "pfmp_id")


async def insert_payment_requests(conn: Connection, rows: list[Row]) -> None:
    """insert_payment_request for many: the first of each id wins (the caller keeps the first of the batch)."""
    if rows:
        await conn.execute(
            f"INSERT INTO payment_requests ({', '.join(REQUEST_COLUMNS)}) SELECT * FROM {unnest(_REQUEST_TYPES)} "
            "ON CONFLICT DO NOTHING",
            *arrays(rows, REQUEST_COLUMNS),
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
