"""SQL of payment requests (many per PFMP, one active) and of exclusions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters.postgres import PoolKey
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


async def insert_requests(conn: Connection, requests: Sequence[NewRequest]) -> None:
    if not requests:
        return
    await conn.execute(
        "INSERT INTO payment_requests (payment_request_id, pfmp_id, state, amount_cents, reasons, kind, base_cents) "
        "SELECT u.id, u.pfmp, u.state, u.amount, "
        "  coalesce(string_to_array(nullif(u.reasons, ''), chr(31)), '{}'), u.kind, u.base "
        "FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[], $7::int[]) "
        "AS u(id, pfmp, state, amount, reasons, kind, base)",
        *_columns(requests, ["payment_request_id", "pfmp_id", "state", "amount_cents", "reasons", "kind",
                             "base_cents"]),
    )


async def change_requests(conn: Connection, changes: Sequence[RequestChange]) -> None:
    if not changes:
        return
    await conn.execute(
        "UPDATE payment_requests r SET state = u.state, amount_cents = u.amount, updated_at = now(), "
        "  reasons = coalesce(string_to_array(nullif(u.reasons, ''), chr(31)), '{}') "
        "FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[]) AS u(id, state, amount, reasons) "
        "WHERE r.payment_request_id = u.id",
        *_columns(changes, ["payment_request_id", "state", "amount_cents", "reasons"]),
    )


def _columns(rows: Sequence[Any], names: list[str]) -> list[list[Any]]:
    # unnest cannot take ragged text[][]: reason lists travel joined by the unit separator (ASCII 31).
    return [["\x1f".join(v) if isinstance(v := getattr(r, n), tuple) else v for r in rows] for n in names]


async def requests_for_returns(conn: Connection, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """The requests ASP returns refer to, with their pool key, locked."""
    rows = await conn.fetch(
        "SELECT r.payment_request_id, r.pfmp_id, r.state, r.amount_cents, r.base_cents, r.kind, "
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
        "  paid_mismatch = u.mismatch, recovery = u.recovery, updated_at = now(), "
        "  asp_reasons = coalesce(string_to_array(nullif(u.reasons, ''), chr(31)), r.asp_reasons) "
        "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::numeric[], $5::bool[], $6::bool[]) "
        "AS u(id, state, reasons, paid, mismatch, recovery) WHERE r.payment_request_id = u.id",
        *_columns(returns, ["payment_request_id", "state", "asp_reasons", "paid_amount", "paid_mismatch",
                            "recovery"]),
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
