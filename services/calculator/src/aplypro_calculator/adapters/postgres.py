"""SQL of the calculator: schoolings with their barème, PFMP facts and amounts, payment requests."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_calculator.domain.pool import PoolPfmp

COMMITTED_STATES = ("ready", "sent", "integrated", "paid")


async def get_schooling(conn: Connection, schooling_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM schoolings WHERE schooling_id = $1", schooling_id)
    return dict(row) if row else None


async def upsert_schooling(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO schoolings VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11) "
        "ON CONFLICT (schooling_id) DO UPDATE SET uai = EXCLUDED.uai, school_year = EXCLUDED.school_year, "
        "mef_code = EXCLUDED.mef_code, mef = EXCLUDED.mef, status = EXCLUDED.status, "
        "daily_rate_cents = EXCLUDED.daily_rate_cents, yearly_cap_cents = EXCLUDED.yearly_cap_cents, "
        "legal_reference = EXCLUDED.legal_reference, unpriced_reason = EXCLUDED.unpriced_reason",
        row["schooling_id"], row["student_id"], row["uai"], row["school_year"], row["mef_code"],
        json.dumps(row["mef"]), row["status"], row["daily_rate_cents"], row["yearly_cap_cents"],
        row["legal_reference"], row["unpriced_reason"],
    )


async def upsert_pfmp(conn: Connection, row: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, "
        "created_seq, rank, deleted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (pfmp_id) DO UPDATE SET schooling_id = EXCLUDED.schooling_id, "
        "start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, day_count = EXCLUDED.day_count, "
        "status = EXCLUDED.status, deleted = EXCLUDED.deleted",
        row["pfmp_id"], row["schooling_id"], row["student_id"], row["start_date"], row["end_date"],
        row["day_count"], row["status"], row["created_seq"], row["rank"], row["deleted"],
    )


async def pools_of_schooling(conn: Connection, schooling_id: UUID) -> list[tuple[UUID, str, int]]:
    rows = await conn.fetch(
        "SELECT DISTINCT student_id, mef_code, school_year FROM schoolings WHERE schooling_id = $1", schooling_id
    )
    return [(r["student_id"], r["mef_code"], r["school_year"]) for r in rows]


async def pool_rows(conn: Connection, student_id: UUID, mef_code: str, school_year: int) -> list[dict[str, Any]]:
    """Every PFMP of the pool (same student, MEF and year, any establishment), locked for this update."""
    rows = await conn.fetch(
        "SELECT p.*, s.daily_rate_cents, s.yearly_cap_cents, s.legal_reference, s.unpriced_reason, "
        "s.school_year, s.mef_code, r.payment_request_id, r.state AS request_state, "
        "r.amount_cents AS request_amount_cents "
        "FROM pfmps p JOIN schoolings s USING (schooling_id) "
        "LEFT JOIN payment_requests r ON r.pfmp_id = p.pfmp_id "
        "WHERE s.student_id = $1 AND s.mef_code = $2 AND s.school_year = $3 ORDER BY p.created_seq "
        "FOR UPDATE OF p",
        student_id, mef_code, school_year,
    )
    return [dict(r) for r in rows]


def to_pool_pfmp(row: dict[str, Any]) -> PoolPfmp:
    committed = row["request_amount_cents"] if row["request_state"] in COMMITTED_STATES else None
    return PoolPfmp(
        pfmp_id=str(row["pfmp_id"]), start_date=row["start_date"], end_date=row["end_date"],
        created_seq=row["created_seq"], day_count=row["day_count"], deleted=row["deleted"],
        # One request per PFMP until rectifications land: a paid one is committed, so class 2 stays empty.
        committed_amount_cents=committed, ever_paid=row["request_state"] == "paid",
    )


async def store_amount(conn: Connection, pfmp_id: UUID, amount_cents: int | None, steps: list[str]) -> None:
    await conn.execute(
        "UPDATE pfmps SET amount_cents = $2, explanation = $3, computed_at = now() WHERE pfmp_id = $1",
        pfmp_id, amount_cents, steps,
    )


async def insert_request(conn: Connection, request_id: UUID, pfmp_id: UUID, amount_cents: int) -> None:
    await conn.execute(
        "INSERT INTO payment_requests (payment_request_id, pfmp_id, state, amount_cents) "
        "VALUES ($1, $2, 'ready', $3)",
        request_id, pfmp_id, amount_cents,
    )


async def explanation(conn: Connection, pfmp_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT p.pfmp_id, p.day_count, p.amount_cents, p.explanation, p.start_date, p.end_date, p.status, "
        "s.mef_code, s.school_year, s.daily_rate_cents, s.yearly_cap_cents, s.legal_reference, "
        "s.unpriced_reason FROM pfmps p JOIN schoolings s USING (schooling_id) WHERE p.pfmp_id = $1",
        pfmp_id,
    )
    return dict(row) if row else None


async def totals(conn: Connection) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE amount_cents IS NOT NULL) AS priced, "
        "coalesce(sum(amount_cents), 0) AS total_cents, "
        "(SELECT count(*) FROM payment_requests) AS requests FROM pfmps"
    )
    assert row is not None
    return {k: int(v) for k, v in dict(row).items()}
