"""SQL of what the student page shows of payments: each request's amount and blocking keys as the calculator
and the gateway last reported them, and each PFMP's computed amount (migration 0008).

The writers run after lifecycle_sql has applied (or dropped) the same event's state, so they follow its
version rule; the held reasons and the amounts keep their own (see the migration).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection


async def requested(conn: Connection, request_id: UUID, amount_cents: int) -> None:
    """The calculator requests the payment: its amount, and no calculator reason left."""
    await conn.execute("UPDATE payment_requests SET amount_cents = $2, calc_reasons = '{}' "
                       "WHERE payment_request_id = $1", request_id, amount_cents)


async def blocked(conn: Connection, request_id: UUID, reasons: Sequence[str]) -> None:
    await conn.execute("UPDATE payment_requests SET calc_reasons = $2 WHERE payment_request_id = $1",
                       request_id, list(reasons))


async def gateway_moved(conn: Connection, request_id: UUID, reasons: Sequence[str],
                        amount_cents: int | None = None) -> None:
    """A gateway state (sent, rejected, paid...) with its return reasons; the amount sent, when it says it."""
    await conn.execute("UPDATE payment_requests SET asp_reasons = $2, amount_cents = coalesce($3, amount_cents) "
                       "WHERE payment_request_id = $1", request_id, list(reasons), amount_cents)


async def held(conn: Connection, request_id: UUID, pfmp_id: UUID, version: int, reasons: Sequence[str],
               at: datetime) -> bool:
    """The gateway holds the request back; False when an event of the gateway as new or newer is held."""
    await conn.execute("INSERT INTO payment_requests (payment_request_id, pfmp_id, first_seen) VALUES ($1, $2, $3) "
                       "ON CONFLICT DO NOTHING", request_id, pfmp_id, at)
    applied = await conn.fetchval(
        "UPDATE payment_requests SET held_reasons = $2, held_version = $3 WHERE payment_request_id = $1 "
        "AND held_version < $3 AND asp_version < $3 RETURNING true", request_id, list(reasons), version)
    return applied is not None


async def amount_computed(conn: Connection, pfmp_id: UUID, amount_cents: int | None, at: datetime) -> bool:
    applied = await conn.fetchval(
        "INSERT INTO pfmp_amounts VALUES ($1, $2, $3) ON CONFLICT (pfmp_id) DO UPDATE "
        "SET amount_cents = EXCLUDED.amount_cents, computed_at = EXCLUDED.computed_at "
        "WHERE pfmp_amounts.computed_at < EXCLUDED.computed_at RETURNING true", pfmp_id, amount_cents, at)
    return applied is not None


async def amounts_computed(conn: Connection, computed: Sequence[tuple[UUID, int | None, datetime]]) -> int:
    """`amount_computed` for a batch's (PFMP, amount, time) in order, in one statement: each PFMP's newest,
    the first of equal times (a later one of the same time is not newer), over the one held if newer. Returns
    how many were not applied (older than, or as old as, a newer one of the PFMP)."""
    if not computed:
        return 0
    ids, amounts, times = zip(*computed, strict=True)
    applied = await conn.fetchval(
        "WITH newest AS (SELECT DISTINCT ON (pfmp_id) pfmp_id, amount_cents, computed_at "
        "  FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) WITH ORDINALITY AS c(pfmp_id, amount_cents, "
        "  computed_at, n) ORDER BY pfmp_id, computed_at DESC, n), "
        "written AS (INSERT INTO pfmp_amounts SELECT * FROM newest ON CONFLICT (pfmp_id) DO UPDATE "
        "  SET amount_cents = EXCLUDED.amount_cents, computed_at = EXCLUDED.computed_at "
        "  WHERE pfmp_amounts.computed_at < EXCLUDED.computed_at RETURNING 1) "
        "SELECT count(*) FROM written", list(ids), list(amounts), list(times))
    return len(computed) - int(applied)


# A request's state and keys as pages show them: the gateway's newest event wins over the calculator's (the
# request left it); among the gateway's, a hold newer than its last state is current.
_STATE = ("CASE WHEN r.held_version > r.asp_version THEN 'incomplete' "
          "     WHEN r.asp_state IS NOT NULL THEN r.asp_state "
          "     WHEN r.calc_state = 'pending' AND r.requested_at IS NOT NULL AND r.calc_reasons = '{}' THEN 'ready' "
          "     ELSE coalesce(r.calc_state, 'pending') END")
_REASONS = ("CASE WHEN r.held_version > r.asp_version THEN r.held_reasons "
            "     WHEN r.asp_state IS NOT NULL THEN r.asp_reasons ELSE r.calc_reasons END")
# The states a school must act on or read about (features.md §2, payments page): Bloquée, Demande rejetée,
# Paiement échoué.
TROUBLED = ("incomplete", "rejected", "unpaid")


class PaymentRow(NamedTuple):
    """One payment request as the page shows it: the state and keys of its newest report."""

    payment_request_id: UUID
    pfmp_id: UUID
    state: str  # lifecycles.md §2 state
    reasons: list[str]
    amount_cents: int | None
    held: bool = False  # blocked by the gateway (PaymentRequestHeld), not by the calculator


async def payments_of_student(conn: Connection, student_id: UUID) -> list[PaymentRow]:
    """The requests of the student's live PFMPs, oldest first, each in its current state (_STATE)."""
    rows = await conn.fetch(
        f"SELECT r.payment_request_id, r.pfmp_id, r.amount_cents, {_STATE} AS state, {_REASONS} AS reasons, "
        "r.held_version > r.asp_version AS held "
        "FROM payment_requests r JOIN pfmps p USING (pfmp_id) WHERE p.student_id = $1 AND NOT p.deleted "
        "ORDER BY coalesce(r.requested_at, r.first_seen), r.payment_request_id", student_id)
    return [PaymentRow(r["payment_request_id"], r["pfmp_id"], r["state"] or "pending", list(r["reasons"]),
                       r["amount_cents"], bool(r["held"])) for r in rows]


async def amounts_of_student(conn: Connection, student_id: UUID) -> dict[UUID, int | None]:
    rows = await conn.fetch("SELECT a.pfmp_id, a.amount_cents FROM pfmp_amounts a JOIN pfmps p USING (pfmp_id) "
                            "WHERE p.student_id = $1", student_id)
    return {r["pfmp_id"]: r["amount_cents"] for r in rows}


class TroubledRow(NamedTuple):
    """The latest request of one PFMP, blocked, rejected or failed, with whose PFMP it is."""

    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    last_name: str
    first_names: list[str]
    class_label: str | None
    start_date: date
    end_date: date
    state: str
    reasons: list[str]
    amount_cents: int | None


async def troubled_of_establishment(conn: Connection, uai: str, school_year: int) -> list[TroubledRow]:
    """The establishment's live PFMPs of the school year (their schooling's) whose latest request is in a
    TROUBLED state, by state, class and student."""
    rows = await conn.fetch(
        "WITH latest AS (SELECT DISTINCT ON (r.pfmp_id) r.payment_request_id, r.pfmp_id, p.student_id, "
        f"  s.class_label, p.start_date, p.end_date, r.amount_cents, {_STATE} AS state, {_REASONS} AS reasons "
        "  FROM payment_requests r JOIN pfmps p USING (pfmp_id) JOIN schoolings s ON s.schooling_id = p.schooling_id "
        "  WHERE s.uai = $1 AND s.school_year = $2 AND NOT p.deleted "
        "  ORDER BY r.pfmp_id, coalesce(r.requested_at, r.first_seen) DESC, r.payment_request_id DESC) "
        "SELECT l.*, st.last_name, st.first_names FROM latest l JOIN students st USING (student_id) "
        "WHERE l.state = ANY($3::text[]) "
        "ORDER BY array_position($3::text[], l.state), l.class_label, st.last_name, st.first_names, l.start_date",
        uai, school_year, list(TROUBLED))
    return [TroubledRow(r["payment_request_id"], r["pfmp_id"], r["student_id"], r["last_name"],
                        list(r["first_names"]), r["class_label"], r["start_date"], r["end_date"], r["state"],
                        list(r["reasons"]), r["amount_cents"]) for r in rows]
