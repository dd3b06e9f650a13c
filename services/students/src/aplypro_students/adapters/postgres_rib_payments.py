"""SQL of the RIBs frozen on payment requests in progress (migration 0013): the `unarchivable_rib` guard."""

from __future__ import annotations

from collections.abc import Sequence
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


async def ribs_in_payment(conn: Connection, rib_ids: Sequence[UUID]) -> set[UUID]:
    """Those of `rib_ids` frozen on a payment request still in progress."""
    rows = await conn.fetch("SELECT DISTINCT rib_id FROM rib_payment_requests WHERE in_progress "
                            "AND rib_id = ANY($1::uuid[])", list(rib_ids))
    return {r["rib_id"] for r in rows}
