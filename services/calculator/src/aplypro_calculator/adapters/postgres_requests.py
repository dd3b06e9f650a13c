"""SQL of payment requests (many per PFMP, one active) and of exclusions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection, json_columns, json_rows

from aplypro_calculator.adapters import cross_student_lock
from aplypro_calculator.adapters.postgres import IN_POOLS, PoolKey
from aplypro_calculator.domain.exclusions import ExclusionRow, Exclusions


@dataclass(frozen=True)
class NewRequest:
    payment_request_id: UUID
    pfmp_id: UUID
    state: str
    amount_cents: int | None
    reasons: tuple[str, ...]
    kind: str = "payment"
    base_cents: int | None = None
    due_at: datetime | None = None  # first evaluation not before (lifecycles.md §5); None: at once
    cause_event_id: UUID | None = None  # the event that created it, and its flow
    correlation_id: UUID | None = None


@dataclass(frozen=True)
class RequestChange:
    """A new state for a request; `amount_cents` is frozen when the state is ready."""

    payment_request_id: UUID
    state: str
    amount_cents: int | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AspReturn:
    payment_request_id: UUID
    state: str
    asp_reasons: tuple[str, ...]
    paid_amount: Decimal | None
    paid_mismatch: bool
    recovery: bool
    asp_version: int  # the gateway's sequence of this return


NEW_REQUEST_COLUMNS = ["payment_request_id", "pfmp_id", "state", "amount_cents", "reasons", "kind", "base_cents",
                       "due_at", "cause_event_id", "correlation_id"]
NEW_REQUEST_TYPES = ["uuid", "uuid", "text", "int", "text", "text", "int", "timestamptz", "uuid", "uuid"]


async def insert_requests(conn: Connection, requests: Sequence[NewRequest]) -> None:
    if not requests:
        return
    await conn.execute(
        "INSERT INTO payment_requests (payment_request_id, pfmp_id, state, amount_cents, reasons, kind, base_cents, "
        "  due_at, cause_event_id, correlation_id) "
        "SELECT u.id, u.pfmp, u.state, u.amount, "
        "  coalesce(string_to_array(nullif(u.reasons, ''), chr(31)), '{}'), u.kind, u.base, u.due, u.cause, u.flow "
        f"FROM (SELECT {json_columns(NEW_REQUEST_TYPES)} FROM jsonb_array_elements($1::jsonb) AS r) "
        "  AS u(id, pfmp, state, amount, reasons, kind, base, due, cause, flow)",
        json_rows(_rows(requests, NEW_REQUEST_COLUMNS)),
    )


async def withdraw_requests(conn: Connection, ids: Sequence[UUID]) -> None:
    """Delete requests never evaluated (nothing was published about them); any other row is left alone."""
    if not ids:
        return
    await conn.execute("DELETE FROM payment_requests WHERE payment_request_id = ANY($1::uuid[]) "
                       "AND state = 'pending' AND reasons = '{}'", list(ids))


async def change_requests(conn: Connection, changes: Sequence[RequestChange]) -> None:
    if not changes:
        return
    await conn.execute(
        "UPDATE payment_requests r SET state = u.state, amount_cents = u.amount, updated_at = now(), "
        "  version = r.version + 1, "  # the request's version: +1 at each change, in this transaction
        "  reasons = coalesce(string_to_array(nullif(u.reasons, ''), chr(31)), '{}') "
        f"FROM (SELECT {json_columns(['uuid', 'text', 'int', 'text'], 'j')} FROM jsonb_array_elements($1::jsonb) AS j) "
        "  AS u(id, state, amount, reasons) WHERE r.payment_request_id = u.id",
        json_rows(_rows(changes, ["payment_request_id", "state", "amount_cents", "reasons"])),
    )


def _value(item: Any, name: str) -> Any:
    # SQL arrays cannot be ragged: reason lists travel joined by the unit separator (ASCII 31).
    return "\x1f".join(v) if isinstance(v := getattr(item, name), tuple) else v


def _columns(items: Sequence[Any], names: list[str]) -> list[list[Any]]:
    """One array per column (`unnest`)."""
    return [[_value(item, name) for item in items] for name in names]


def _rows(items: Sequence[Any], names: list[str]) -> list[list[Any]]:
    """One list per row (`json_rows`)."""
    return [[_value(item, name) for name in names] for item in items]


@dataclass(frozen=True)
class DueRequest:
    """A request created and never evaluated, whose due time has come, with its pool and its cause."""

    payment_request_id: UUID
    pool: PoolKey
    cause_event_id: UUID | None
    correlation_id: UUID | None


async def claim_due_requests(conn: Connection, now: datetime, limit: int) -> list[DueRequest]:
    """The oldest due requests, locked; those another evaluator holds are skipped (several may run)."""
    rows = await conn.fetch(
        "SELECT r.payment_request_id, r.cause_event_id, r.correlation_id, s.student_id, s.mef_code, s.school_year "
        "FROM payment_requests r JOIN pfmps p USING (pfmp_id) JOIN schoolings s USING (schooling_id) "
        "WHERE r.state = 'pending' AND r.reasons = '{}' AND (r.due_at IS NULL OR r.due_at <= $1) "
        "ORDER BY r.due_at, r.seq LIMIT $2 FOR UPDATE OF r SKIP LOCKED",
        now, limit)
    return [DueRequest(r["payment_request_id"], (r["student_id"], r["mef_code"], r["school_year"]),
                       r["cause_event_id"], r["correlation_id"]) for r in rows]


async def lock_whole_pools(conn: Connection, keys: Sequence[PoolKey]) -> set[PoolKey]:
    """Lock every PFMP of these pools without waiting; return the pools locked whole.

    A PFMP row locked elsewhere means the pool has a writer now (the consumer, or another evaluator): the
    pool is left to the next pass. Never waiting here is what keeps the evaluator out of deadlocks with
    the consumer, which locks a pool's PFMPs first and its requests after.
    """
    if not keys:
        return set()
    columns = [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]]
    in_pools = f"FROM pfmps p JOIN schoolings s USING (schooling_id) WHERE {IN_POOLS}"
    locked = await conn.fetch(f"SELECT p.pfmp_id {in_pools}ORDER BY p.created_seq FOR UPDATE OF p SKIP LOCKED",
                              *columns)
    busy = await conn.fetch(
        f"SELECT DISTINCT s.student_id, s.mef_code, s.school_year {in_pools}AND NOT (p.pfmp_id = ANY($4::uuid[]))",
        *columns, [r["pfmp_id"] for r in locked])
    return set(keys) - {(r["student_id"], r["mef_code"], r["school_year"]) for r in busy}


async def due_in_pools(conn: Connection, keys: Sequence[PoolKey], now: datetime) -> list[UUID]:
    """Every request of these pools never evaluated and due at `now`, claimed or not."""
    if not keys:
        return []
    rows = await conn.fetch(
        "SELECT r.payment_request_id FROM payment_requests r JOIN pfmps p USING (pfmp_id) "
        f"JOIN schoolings s USING (schooling_id) WHERE {IN_POOLS}"
        "AND r.state = 'pending' AND r.reasons = '{}' AND (r.due_at IS NULL OR r.due_at <= $4)",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], now)
    return [r["payment_request_id"] for r in rows]


async def awaiting(conn: Connection, ids: Sequence[UUID]) -> dict[UUID, str]:
    """State of these requests, or `awaiting` for those still not evaluated."""
    rows = await conn.fetch(
        "SELECT payment_request_id, CASE WHEN state = 'pending' AND reasons = '{}' THEN 'awaiting' ELSE state END "
        "AS state FROM payment_requests WHERE payment_request_id = ANY($1::uuid[])", list(ids))
    return {r["payment_request_id"]: r["state"] for r in rows}


async def requests_for_returns(conn: Connection, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """The requests ASP returns refer to, with their pool key, locked."""
    rows = await conn.fetch(
        "SELECT r.payment_request_id, r.pfmp_id, r.state, r.amount_cents, r.base_cents, r.kind, r.asp_version, "
        "s.student_id, s.mef_code, s.school_year FROM payment_requests r JOIN pfmps p USING (pfmp_id) "
        "JOIN schoolings s USING (schooling_id) WHERE r.payment_request_id = ANY($1) FOR UPDATE OF r",
        ids,
    )
    return {r["payment_request_id"]: dict(r) for r in rows}


async def apply_returns(conn: Connection, returns: Sequence[AspReturn]) -> None:
    if not returns:
        return
    await conn.execute(
        "UPDATE payment_requests r SET state = u.state, paid_amount = coalesce(u.paid, r.paid_amount), "
        "  paid_mismatch = u.mismatch, recovery = u.recovery, updated_at = now(), version = r.version + 1, "
        "  asp_version = greatest(r.asp_version, u.asp_version), "
        "  asp_reasons = coalesce(string_to_array(nullif(u.reasons, ''), chr(31)), r.asp_reasons) "
        "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::numeric[], $5::bool[], $6::bool[], $7::int[]) "
        "AS u(id, state, reasons, paid, mismatch, recovery, asp_version) WHERE r.payment_request_id = u.id",
        *_columns(returns, ["payment_request_id", "state", "asp_reasons", "paid_amount", "paid_mismatch",
                            "recovery", "asp_version"]),
    )


async def pools_with_open_requests(conn: Connection, reason: str) -> list[PoolKey]:
    """Pools holding a pending or incomplete request blocked by `reason`."""
    rows = await conn.fetch(
        "SELECT DISTINCT s.student_id, s.mef_code, s.school_year FROM payment_requests r "
        "JOIN pfmps p USING (pfmp_id) JOIN schoolings s USING (schooling_id) "
        "WHERE r.state IN ('pending', 'incomplete') AND $1 = ANY(r.reasons)",
        reason,
    )
    return [(r["student_id"], r["mef_code"], r["school_year"]) for r in rows]


async def count_open(conn: Connection, reason: str) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM payment_requests WHERE state IN ('pending', 'incomplete') AND $1 = ANY(reasons)",
        reason))


async def load_exclusions(conn: Connection) -> Exclusions:
    """The list, read under the shared cross-student lock (held to the end of the transaction: a change waits for
    it)."""
    await cross_student_lock.lock(conn, change=False)
    rows = await conn.fetch("SELECT uai, mef_code, school_year FROM exclusions ORDER BY created_at, uai")
    return Exclusions(ExclusionRow(r["uai"], r["mef_code"], r["school_year"]) for r in rows)


async def add_exclusion(conn: Connection, row: ExclusionRow) -> bool:
    """False when the row was already there."""
    inserted = await conn.fetchval(
        "INSERT INTO exclusions (uai, mef_code, school_year) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
        "RETURNING true", row.uai, row.mef, row.school_year)
    return bool(inserted)


async def remove_exclusion(conn: Connection, row: ExclusionRow) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM exclusions WHERE uai = $1 AND mef_code IS NOT DISTINCT FROM $2 "
        "AND school_year IS NOT DISTINCT FROM $3 RETURNING true", row.uai, row.mef, row.school_year)
    return bool(deleted)


async def pools_of(conn: Connection, row: ExclusionRow) -> list[PoolKey]:
    """Pools holding a schooling that this exclusion row reaches."""
    rows = await conn.fetch(
        "SELECT DISTINCT student_id, mef_code, school_year FROM schoolings WHERE uai = $1 "
        "AND ($2::text IS NULL OR mef_code = $2) AND ($3::int IS NULL OR school_year = $3)",
        row.uai, row.mef, row.school_year)
    return [(r["student_id"], r["mef_code"], r["school_year"]) for r in rows]
