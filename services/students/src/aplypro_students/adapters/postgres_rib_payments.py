"""SQL of the RIBs frozen on payment requests in progress (migration 0013): the `unarchivable_rib` guard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from aplypro_servicekit.db import Connection


async def record_request(conn: Connection, payment_request_id: UUID, student_id: UUID, *, rib_id: UUID | None,
                         in_progress: bool, version: int) -> bool:
    """The request's state if newer than the one held (by the gateway's version; between two unversioned v1
    events, the last one read); False when stale. A RIB id is kept whatever the order: the `ready` state (v3) and
    PaymentRequestSent carry it, other events may not, and a later state that overtook it must not lose it."""
    applied = await conn.fetchval(
        "INSERT INTO rib_payment_requests VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_request_id) DO UPDATE "
        "SET in_progress = EXCLUDED.in_progress, version = EXCLUDED.version, "
        "rib_id = coalesce(EXCLUDED.rib_id, rib_payment_requests.rib_id) "
        "WHERE rib_payment_requests.version < EXCLUDED.version "
        "OR rib_payment_requests.version = 0 AND EXCLUDED.version = 0 RETURNING true",
        payment_request_id, student_id, rib_id, in_progress, version)
    if not applied and rib_id is not None:
        await conn.execute("UPDATE rib_payment_requests SET rib_id = $2 WHERE payment_request_id = $1 "
                           "AND rib_id IS NULL", payment_request_id, rib_id)
    return bool(applied)


@dataclass
class RequestRow:
    """One row of rib_payment_requests, as a batch folds its events into it."""

    payment_request_id: UUID
    student_id: UUID
    rib_id: UUID | None
    in_progress: bool
    version: int


class ConcurrentInsert(Exception):
    """A row absent when the batch read it was inserted by another transaction before the batch wrote it."""


async def requests_for_update(conn: Connection, payment_request_ids: Sequence[UUID]) -> dict[UUID, RequestRow]:
    """The rows held of these requests, locked as the per-event upsert locks them (in id order: no deadlock
    between two batches)."""
    rows = await conn.fetch(
        "SELECT payment_request_id, student_id, rib_id, in_progress, version FROM rib_payment_requests "
        "WHERE payment_request_id = ANY($1::uuid[]) ORDER BY payment_request_id FOR UPDATE",
        list(payment_request_ids))
    return {r["payment_request_id"]: RequestRow(**dict(r)) for r in rows}


async def write_requests(conn: Connection, changed: Sequence[RequestRow], new_ids: set[UUID]) -> None:
    """The rows a batch changed, in one statement: those it read are updated, those it did not find inserted.

    Raises ConcurrentInsert if one of the new rows appeared meanwhile (not under the batch's lock): the batch
    is then undone and applied event by event, whose upserts take that row as it is."""
    inserted = await conn.fetchval(
        "WITH r AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bool[], $5::int[], $6::bool[]) "
        "  AS r(payment_request_id, student_id, rib_id, in_progress, version, new)), "
        "upd AS (UPDATE rib_payment_requests t SET rib_id = r.rib_id, in_progress = r.in_progress, "
        "  version = r.version FROM r WHERE NOT r.new AND t.payment_request_id = r.payment_request_id), "
        "ins AS (INSERT INTO rib_payment_requests "
        "  SELECT payment_request_id, student_id, rib_id, in_progress, version FROM r WHERE r.new "
        "  ON CONFLICT (payment_request_id) DO NOTHING RETURNING 1) "
        "SELECT count(*) FROM ins",
        [r.payment_request_id for r in changed], [r.student_id for r in changed], [r.rib_id for r in changed],
        [r.in_progress for r in changed], [r.version for r in changed],
        [r.payment_request_id in new_ids for r in changed])
    if inserted != sum(r.payment_request_id in new_ids for r in changed):
        raise ConcurrentInsert("a payment request row was inserted by another transaction during the batch")


async def ribs_in_payment(conn: Connection, rib_ids: Sequence[UUID]) -> set[UUID]:
    """Those of `rib_ids` frozen on a payment request still in progress."""
    rows = await conn.fetch("SELECT DISTINCT rib_id FROM rib_payment_requests WHERE in_progress "
                            "AND rib_id = ANY($1::uuid[])", list(rib_ids))
    return {r["rib_id"] for r in rows}
