"""SQL of the confirmed director's payment and decision actions: their audit rows and the facts they check."""

from __future__ import annotations

from uuid import UUID

from aplypro_servicekit.db import Connection


async def audit(conn: Connection, user_id: str, action: str, *, pfmp_id: UUID | None = None,
                schooling_id: UUID | None = None, payment_request_id: UUID | None = None) -> None:
    await conn.execute("INSERT INTO pfmp_actions (user_id, action, pfmp_id, schooling_id, payment_request_id) "
                       "VALUES ($1, $2, $3, $4, $5)", user_id, action, pfmp_id, schooling_id, payment_request_id)


async def already_done(conn: Connection, action: str, *, schooling_id: UUID | None = None,
                       payment_request_id: UUID | None = None) -> bool:
    """Whether this action was already asked for this schooling or request (a double click, a second tab)."""
    return bool(await conn.fetchval(
        "SELECT true FROM pfmp_actions WHERE action = $1 AND schooling_id IS NOT DISTINCT FROM $2 "
        "AND payment_request_id IS NOT DISTINCT FROM $3 LIMIT 1", action, schooling_id, payment_request_id))


async def relaunched(conn: Connection, student_id: UUID) -> set[UUID]:
    """The payment requests of the student's PFMPs already relaunched (their new request may not be known yet)."""
    rows = await conn.fetch("SELECT a.payment_request_id FROM pfmp_actions a JOIN pfmps p USING (pfmp_id) "
                            "WHERE a.action = 'relaunch' AND p.student_id = $1", student_id)
    return {r["payment_request_id"] for r in rows}


async def latest_request(conn: Connection, pfmp_id: UUID) -> tuple[UUID, str | None] | None:
    """(id, state) of the PFMP's latest payment request as pfmp knows it, or None. A request the gateway holds
    back (PaymentRequestHeld newer than its last state) is `incomplete`, as the student page shows it."""
    row = await conn.fetchrow(
        "SELECT payment_request_id, CASE WHEN held_version > asp_version THEN 'incomplete' "
        "ELSE coalesce(asp_state, calc_state) END AS state FROM payment_requests "
        "WHERE pfmp_id = $1 ORDER BY coalesce(requested_at, first_seen) DESC, payment_request_id LIMIT 1", pfmp_id)
    return None if row is None else (row["payment_request_id"], row["state"])


async def decision_kinds(conn: Connection, schooling_id: UUID) -> set[str]:
    """The decisions documents issued for the schooling: attribution, retrait, abrogation."""
    return {r["kind"] for r in await conn.fetch("SELECT kind FROM decisions WHERE schooling_id = $1", schooling_id)}
