"""SQL of the director's "retenter" on a request the gateway holds: flag it for a check at the next build."""

from __future__ import annotations

from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters.projection_repo import tick_students


async def recheck_request(conn: Connection, payment_request_id: UUID, student_id: UUID) -> str | None:
    """Flag the student's request for a new check if it is still pending here (blocked or parked); returns its
    state (None: unknown here, or another student's). The student's clock first, as every re-check flag: a
    build holding the row waits for this commit, then sees the flag (requests_repo.pending_requests)."""
    await tick_students(conn, [student_id])
    state: str | None = await conn.fetchval(
        "WITH f AS (UPDATE payment_requests SET recheck = true WHERE payment_request_id = $1 AND student_id = $2 "
        "AND state = 'pending' RETURNING state) "
        "SELECT coalesce((SELECT state FROM f), (SELECT state FROM payment_requests "
        "WHERE payment_request_id = $1 AND student_id = $2))",
        payment_request_id, student_id)
    return state
