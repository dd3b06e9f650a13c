"""Read-only queries for the command line: one PFMP's explanation, totals, exclusions."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters.postgres import POOL_SELECT

_POOL_ROWS = POOL_SELECT + "WHERE s.student_id = $1 AND s.mef_code = $2 AND s.school_year = $3 ORDER BY p.created_seq"


async def explanation(conn: Connection, pfmp_id: UUID) -> dict[str, Any] | None:
    """The PFMP with its schooling, the rows of its pool (unlocked) and its requests, oldest first."""
    row = await conn.fetchrow(
        "SELECT p.*, s.uai, s.mef_code, s.mef, s.school_year, s.status AS schooling_status, s.daily_rate_cents, "
        "s.yearly_cap_cents, s.legal_reference, s.unpriced_reason FROM pfmps p JOIN schoolings s USING "
        "(schooling_id) WHERE p.pfmp_id = $1",
        pfmp_id,
    )
    if row is None:
        return None
    found = {**dict(row), "explanation": json.loads(row["explanation"]), "mef": json.loads(row["mef"])}
    pool = await conn.fetch(_POOL_ROWS, row["student_id"], row["mef_code"], row["school_year"])
    requests = await conn.fetch(
        "SELECT payment_request_id, kind, state, amount_cents, base_cents, reasons, asp_reasons, paid_amount, "
        "paid_mismatch, recovery, created_at, due_at, gateway_reasons FROM payment_requests WHERE pfmp_id = $1 ORDER BY seq", pfmp_id)
    return {**found, "pool": [dict(r) for r in pool], "requests": [dict(r) for r in requests]}


async def totals(conn: Connection) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE amount_cents IS NOT NULL) AS priced, "
        "coalesce(sum(amount_cents), 0) AS total_cents, "
        "(SELECT count(*) FROM payment_requests) AS requests FROM pfmps"
    )
    assert row is not None
    by_state = await conn.fetch("SELECT state, count(*) AS n FROM payment_requests GROUP BY state ORDER BY state")
    mismatches = await conn.fetchval("SELECT count(*) FROM payment_requests WHERE paid_mismatch")
    return {**{k: int(v) for k, v in dict(row).items()},
            "requests_by_state": {r["state"]: int(r["n"]) for r in by_state},
            "paid_mismatches": int(mismatches), "blocked_by_reason": await blocked_by_reason(conn)}


async def blocked_by_reason(conn: Connection) -> dict[str, int]:
    """Requests not sent yet by what holds them back: the calculator's reasons of open requests, the gateway's
    of those handed over as ready; a request never evaluated counts under `awaiting_evaluation` (its
    cool-down), so none is silent."""
    rows = await conn.fetch(
        "SELECT reason, count(*) AS n FROM ("
        " SELECT unnest(reasons) AS reason FROM payment_requests WHERE state IN ('pending', 'incomplete')"
        " UNION ALL SELECT unnest(gateway_reasons) FROM payment_requests WHERE state = 'ready'"
        " UNION ALL SELECT 'awaiting_evaluation' FROM payment_requests"
        " WHERE state = 'pending' AND cardinality(reasons) = 0 AND due_at IS NOT NULL) r GROUP BY reason")
    return {r["reason"]: int(r["n"]) for r in rows}


async def exclusions(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT e.uai, e.mef_code, e.school_year, e.created_at, "
        "(SELECT count(*) FROM schoolings s WHERE s.uai = e.uai AND (e.mef_code IS NULL OR s.mef_code = e.mef_code) "
        " AND (e.school_year IS NULL OR s.school_year = e.school_year)) AS schoolings "
        "FROM exclusions e ORDER BY e.uai, e.mef_code NULLS FIRST, e.school_year NULLS FIRST")
    return [dict(r) for r in rows]
