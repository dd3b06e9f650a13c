"""SQL of a batch of payment facts at once (issue 12): the batch's payment_requests rows read in one locked
statement, then written back in one, with the PFMPs the ASP came to know and the stale counts. The rules that
change the rows are the per-event writers' (lifecycle_sql, payments_sql, indicator_facts_sql), applied in Python
by service_layer.facts_batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg
import pydantic_core
from aplypro_servicekit.db import Connection


@dataclass
class RequestRow:
    """One payment_requests row as the batch folds it (the columns' defaults: a row just inserted)."""

    payment_request_id: UUID
    pfmp_id: UUID
    first_seen: datetime
    requested_at: datetime | None = None
    calc_state: str | None = None
    calc_version: int = -1
    asp_state: str | None = None
    asp_version: int = -1
    amount_cents: int | None = None
    calc_reasons: list[str] = field(default_factory=list)
    asp_reasons: list[str] = field(default_factory=list)
    held_reasons: list[str] = field(default_factory=list)
    held_version: int = -1
    paid_cents: int | None = None
    recovery: bool = False


_COLUMNS = [f for f in RequestRow.__dataclass_fields__]
_RECORD = ("payment_request_id uuid, pfmp_id uuid, first_seen timestamptz, requested_at timestamptz, "
           "calc_state text, calc_version int, asp_state text, asp_version int, amount_cents bigint, "
           "calc_reasons text[], asp_reasons text[], held_reasons text[], held_version int, paid_cents bigint, "
           "recovery boolean, existed boolean")
_SET = ", ".join(f"{c} = u.{c}" for c in _COLUMNS[1:])
_LIST = ", ".join(_COLUMNS)


async def requests_for_update(conn: Connection, request_ids: Collection[UUID]) -> dict[UUID, RequestRow]:
    """The rows of these requests that exist, locked as the per-event UPDATEs lock them (in key order: two
    batches side by side never wait for each other in a cycle)."""
    rows = await conn.fetch(f"SELECT {_LIST} FROM payment_requests WHERE payment_request_id = ANY($1::uuid[]) "
                            "ORDER BY payment_request_id FOR UPDATE", list(request_ids))
    return {r["payment_request_id"]: RequestRow(**dict(r)) for r in rows} if rows else {}


class RequestInsertedMeanwhile(asyncpg.SerializationError):
    """A request the batch read as new was inserted by another transaction before the batch wrote it: the
    batch is retried (a serialization failure is transient), and its new read sees that row."""


async def write_requests(conn: Connection, rows: Iterable[RequestRow], existed: Collection[UUID]) -> None:
    """Write the folded rows in one statement: those read are updated, the others inserted."""
    # vars(), not asdict(): asdict deep-copies every value, most of the batch's CPU
    records = [{**vars(r), "existed": r.payment_request_id in existed} for r in rows]
    if not records:
        return
    inserted = await conn.fetchval(
        f"WITH u AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS u({_RECORD})), "
        f"updated AS (UPDATE payment_requests r SET {_SET} FROM u "
        "  WHERE u.existed AND r.payment_request_id = u.payment_request_id), "
        f"inserted AS (INSERT INTO payment_requests ({_LIST}) SELECT {_LIST} FROM u WHERE NOT u.existed "
        "  ON CONFLICT DO NOTHING RETURNING 1) "
        "SELECT count(*) FROM inserted", pydantic_core.to_json(records).decode())  # UUIDs, datetimes: in Rust
    if inserted != sum(not r["existed"] for r in records):
        raise RequestInsertedMeanwhile("a payment request was inserted by another transaction; batch retried")


async def add_known_to_asp(conn: Connection, pfmp_ids: Collection[UUID]) -> None:
    if pfmp_ids:
        await conn.execute("INSERT INTO pfmps_known_to_asp SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING",
                           sorted(pfmp_ids))


async def count_stale(conn: Connection, dropped: Counter[str]) -> None:
    """Add each event type's dropped count, as lifecycle_sql's per-event counter adds 1 (in key order: the
    lanes' batches update the same few rows)."""
    if dropped:
        types = sorted(dropped)
        await conn.execute(
            "INSERT INTO stale_events SELECT * FROM unnest($1::text[], $2::bigint[]) "
            "ON CONFLICT (event_type) DO UPDATE SET dropped = stale_events.dropped + EXCLUDED.dropped",
            types, [dropped[t] for t in types])
