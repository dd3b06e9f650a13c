"""SQL of the calculator: schoolings with their barème, PFMP facts, pools and amounts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection, json_columns, json_rows

from aplypro_calculator.domain.overlaps import Period
from aplypro_calculator.domain.pool import PoolPfmp
from aplypro_calculator.domain.requests import COMMITTED


async def get_schoolings(conn: Connection, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    rows = await conn.fetch("SELECT s.*, coalesce(h.hidden, false) AS schooling_hidden FROM schoolings s "
                            "LEFT JOIN hidden_schoolings h USING (schooling_id) WHERE s.schooling_id = ANY($1)", ids)
    return {r["schooling_id"]: dict(r) for r in rows}


async def upsert_schoolings(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One statement for the batch; rows must have distinct ids (ON CONFLICT touches a row once). The caller
    dropped stale events; the version guard keeps an older one from ever overwriting a newer row."""
    await conn.execute(
        "INSERT INTO schoolings SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], "
        "$6::jsonb[], $7::text[], $8::int[], $9::int[], $10::text[], $11::text[], $12::int[]) "
        "ON CONFLICT (schooling_id) DO UPDATE SET uai = EXCLUDED.uai, school_year = EXCLUDED.school_year, "
        "mef_code = EXCLUDED.mef_code, mef = EXCLUDED.mef, status = EXCLUDED.status, "
        "daily_rate_cents = EXCLUDED.daily_rate_cents, yearly_cap_cents = EXCLUDED.yearly_cap_cents, "
        "legal_reference = EXCLUDED.legal_reference, unpriced_reason = EXCLUDED.unpriced_reason, "
        "version = EXCLUDED.version "
        "WHERE schoolings.version < EXCLUDED.version OR EXCLUDED.version = 0 AND schoolings.version = 0",
        *_columns(rows, ["schooling_id", "student_id", "uai", "school_year", "mef_code", "mef", "status",
                         "daily_rate_cents", "yearly_cap_cents", "legal_reference", "unpriced_reason", "version"]),
    )


PFMP_COLUMNS = ["pfmp_id", "schooling_id", "student_id", "start_date", "end_date", "day_count", "status",
                "created_seq", "rank", "deleted", "version", "validated_at"]
PFMP_TYPES = ["uuid", "uuid", "uuid", "date", "date", "int", "text", "bigint", "int", "bool", "int", "timestamptz"]


# A PFMP already stored takes the new facts; `validated_at` is kept from the first validation, never moved
# by a replay.
_NEW_FACTS = (
    "ON CONFLICT (pfmp_id) DO UPDATE SET schooling_id = EXCLUDED.schooling_id, "
    "start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, day_count = EXCLUDED.day_count, "
    "status = EXCLUDED.status, deleted = EXCLUDED.deleted, version = EXCLUDED.version, "
    "validated_at = coalesce(pfmps.validated_at, EXCLUDED.validated_at)"
)
# Only newer facts (the caller dropped stale events; this guard makes sure an older one never wins).
_ONLY_NEWER = " WHERE pfmps.version < EXCLUDED.version OR EXCLUDED.version = 0 AND pfmps.version = 0"


def _facts(row: dict[str, Any]) -> list[Any]:
    return [*(row[name] for name in PFMP_COLUMNS[:-1]), row.get("validated_at")]  # validated_at is optional


async def upsert_pfmps(conn: Connection, rows: list[dict[str, Any]], *, only_newer: bool = True) -> None:
    """PFMP facts, without amounts (those of unknown schoolings, or already stored). `only_newer=False`: the
    calculator's own correction (an operator repair), which keeps the version it read."""
    if not rows:
        return
    await conn.execute(
        f"INSERT INTO pfmps ({', '.join(PFMP_COLUMNS)}) SELECT {json_columns(PFMP_TYPES)} "
        f"FROM jsonb_array_elements($1::jsonb) AS r {_NEW_FACTS}{_ONLY_NEWER if only_newer else ''}",
        json_rows(_facts(row) for row in rows),
    )


async def stored_pfmps(conn: Connection, ids: list[UUID]) -> dict[UUID, int]:
    """The version held of each of these PFMPs that is stored."""
    rows = await conn.fetch("SELECT pfmp_id, version FROM pfmps WHERE pfmp_id = ANY($1::uuid[])", ids)
    return {r["pfmp_id"]: r["version"] for r in rows}


async def insert_priced_pfmps(conn: Connection, rows: list[tuple[dict[str, Any], int | None, list[str]]]) -> None:
    """New PFMPs written once, with their amount and its explanation (row, amount, steps)."""
    if not rows:
        return
    await conn.execute(
        f"INSERT INTO pfmps ({', '.join(PFMP_COLUMNS)}, amount_cents, explanation, computed_at) "
        f"SELECT {json_columns([*PFMP_TYPES, 'int', 'jsonb'])}, now() FROM jsonb_array_elements($1::jsonb) AS r "
        f"{_NEW_FACTS}, amount_cents = EXCLUDED.amount_cents, explanation = EXCLUDED.explanation, "
        f"computed_at = EXCLUDED.computed_at{_ONLY_NEWER}",
        json_rows([*_facts(row), amount, steps] for row, amount, steps in rows),
    )


async def payable_periods(conn: Connection, student_ids: list[UUID]) -> list[Period]:
    """The live validated or rectified PFMPs of these students, any schooling and year (reason `overlaps`)."""
    rows = await conn.fetch(
        "SELECT pfmp_id, student_id, start_date, end_date, status, deleted FROM pfmps "
        "WHERE student_id = ANY($1::uuid[]) AND NOT deleted AND status IN ('validated', 'rectified')", student_ids)
    return [Period(*r) for r in rows]  # straight from the record (the columns in Period's order): no dict


async def pools_with_open_requests(conn: Connection, student_ids: list[UUID]) -> list[PoolKey]:
    """The pools of these students holding a PFMP whose latest request is not handed over yet."""
    rows = await conn.fetch(
        # The schooling by one index probe per PFMP (LIMIT 1 on its primary key keeps the join lateral): a plain
        # join let the planner hash the whole schoolings table for every batch.
        "SELECT DISTINCT s.student_id, s.mef_code, s.school_year FROM pfmps p "
        "JOIN LATERAL (SELECT student_id, mef_code, school_year FROM schoolings "
        "  WHERE schooling_id = p.schooling_id LIMIT 1) s ON true "
        "JOIN LATERAL (SELECT state FROM payment_requests WHERE pfmp_id = p.pfmp_id ORDER BY seq DESC LIMIT 1) r "
        "ON true WHERE p.student_id = ANY($1::uuid[]) AND r.state IN ('pending', 'incomplete')", student_ids)
    return [(r["student_id"], r["mef_code"], r["school_year"]) for r in rows]


def _columns(rows: list[dict[str, Any]], names: list[str]) -> list[list[Any]]:
    return [[row[name] for row in rows] for name in names]


PoolKey = tuple[UUID, str, int]  # (student, MEF code, school year): one yearly cap


# Every PFMP with its schooling's barème, its latest request (which decides its class) and its latest
# paid one (the rectification base).
# PFMPs (p) with their schooling (s), their latest request (r) and their latest paid one (pd).
PFMP_REQUESTS_FROM = (
    "FROM pfmps p JOIN schoolings s USING (schooling_id) "
    "LEFT JOIN LATERAL (SELECT payment_request_id, state, amount_cents, reasons, due_at, asp_reasons, version "
    "  FROM payment_requests WHERE pfmp_id = p.pfmp_id ORDER BY seq DESC LIMIT 1) r ON true "
    "LEFT JOIN LATERAL (SELECT amount_cents FROM payment_requests "
    "  WHERE pfmp_id = p.pfmp_id AND state = 'paid' ORDER BY seq DESC LIMIT 1) pd ON true "
)
POOL_SELECT = (
    "SELECT p.pfmp_id, p.schooling_id, p.student_id, p.start_date, p.end_date, p.day_count, p.status, "
    "p.created_seq, p.rank, p.deleted, p.version, p.amount_cents, p.computed_at, p.validated_at, s.daily_rate_cents, "
    "s.yearly_cap_cents, s.legal_reference, s.unpriced_reason, s.school_year, s.mef_code, s.uai, "
    "r.payment_request_id, r.state AS request_state, r.amount_cents AS request_amount_cents, "
    "r.reasons AS request_reasons, r.due_at AS request_due_at, r.version AS request_version, "
    "pd.amount_cents AS paid_cents, coalesce(h.hidden, false) AS schooling_hidden "
    + PFMP_REQUESTS_FROM
    + "LEFT JOIN hidden_schoolings h ON h.schooling_id = p.schooling_id "
)


# PFMPs (p) and schoolings (s) of the pools $1, $2, $3 (students, MEF codes, years). The `= ANY` terms
# are redundant with the IN but give the planner the index paths: without them it may hash-join whole
# tables, a cost that grows with the table instead of the batch.
IN_POOLS = (
    "s.student_id = ANY($1::uuid[]) AND p.student_id = ANY($1::uuid[]) "
    "AND (s.student_id, s.mef_code, s.school_year) IN (SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[])) "
)


async def pool_rows(conn: Connection, keys: list[PoolKey]) -> list[dict[str, Any]]:
    """Every PFMP of these pools (any establishment), locked for this update."""
    rows = await conn.fetch(
        POOL_SELECT + "WHERE " + IN_POOLS + "ORDER BY p.created_seq FOR UPDATE OF p",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
    )
    return [dict(r) for r in rows]


_SCHOOLING_IN_POOL = ("daily_rate_cents", "yearly_cap_cents", "legal_reference", "unpriced_reason", "school_year",
                      "mef_code", "uai", "schooling_hidden")


def arriving_pool_row(facts: dict[str, Any], schooling: dict[str, Any]) -> dict[str, Any]:
    """A PFMP not stored yet, as `pool_rows` will return it once stored: no amount, no request."""
    return {**facts, "amount_cents": None, "computed_at": None,
            **{name: schooling[name] for name in _SCHOOLING_IN_POOL},
            "payment_request_id": None, "request_state": None, "request_amount_cents": None,
            "request_reasons": None, "request_due_at": None, "request_version": None, "paid_cents": None}


def to_pool_pfmp(row: dict[str, Any], *, excluded: bool) -> PoolPfmp:
    """`row` as pool_rows returns it (its schooling's hiding in `schooling_hidden`)."""
    committed = row["request_amount_cents"] if row["request_state"] in COMMITTED else None
    return PoolPfmp(
        pfmp_id=str(row["pfmp_id"]), start_date=row["start_date"], end_date=row["end_date"],
        created_seq=row["created_seq"], day_count=row["day_count"], deleted=row["deleted"], excluded=excluded,
        hidden=row["schooling_hidden"], committed_amount_cents=committed, ever_paid=row["paid_cents"] is not None,
    )


async def store_amounts(conn: Connection, amounts: list[tuple[UUID, int | None, list[str]]]) -> None:
    if not amounts:
        return
    await conn.execute(
        "UPDATE pfmps p SET amount_cents = u.amount, explanation = u.steps, computed_at = now() "
        f"FROM (SELECT {json_columns(['uuid', 'int', 'jsonb'])} FROM jsonb_array_elements($1::jsonb) AS r) "
        "AS u(pfmp_id, amount, steps) WHERE p.pfmp_id = u.pfmp_id",
        json_rows(amounts),
    )
