"""SQL of retries: a PFMP's latest request, the requests a new RIB or address may cure, address fingerprints."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters.postgres import PFMP_REQUESTS_FROM

# The PFMP with its pool key, its latest request and its latest paid one (the base of a rectified PFMP).
_COLUMNS = (
    "SELECT p.pfmp_id, s.student_id, p.status, p.deleted, p.amount_cents, s.uai, s.mef_code, s.school_year, "
    "r.payment_request_id, r.state AS request_state, r.asp_reasons, pd.amount_cents AS paid_cents "
)
_LATEST = _COLUMNS + PFMP_REQUESTS_FROM
# When the latest request's rejection was recorded (its last update): an address change must come after it.
_REJECTED_AT = (_COLUMNS + ", (SELECT updated_at FROM payment_requests q "
                "WHERE q.payment_request_id = r.payment_request_id) AS rejected_at " + PFMP_REQUESTS_FROM)


async def latest_requests(conn: Connection, pfmp_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    """These PFMPs (locked, as a pool update would) with their latest request."""
    rows = await conn.fetch(_LATEST + "WHERE p.pfmp_id = ANY($1::uuid[]) ORDER BY p.created_seq FOR UPDATE OF p",
                            list(pfmp_ids))
    return {r["pfmp_id"]: dict(r) for r in rows}


async def rejected_at(conn: Connection, students_at: Sequence[tuple[UUID, str]],
                      reasons: Collection[str]) -> list[dict[str, Any]]:
    """PFMPs of these (student, establishment UAI) whose latest request was rejected for one of `reasons`."""
    rows = await conn.fetch(
        _LATEST + "WHERE (s.student_id, s.uai) IN (SELECT * FROM unnest($1::uuid[], $2::text[])) "
        "AND r.state = 'rejected' AND r.asp_reasons && $3::text[] ORDER BY p.created_seq FOR UPDATE OF p",
        [k[0] for k in students_at], [k[1] for k in students_at], sorted(reasons))
    return [dict(r) for r in rows]


async def rejected_of(conn: Connection, student_ids: Sequence[UUID], reasons: Collection[str]) -> list[dict[str, Any]]:
    """PFMPs of these students (any establishment) whose latest request was rejected for one of `reasons`,
    with the time the rejection was recorded."""
    rows = await conn.fetch(
        _REJECTED_AT + "WHERE s.student_id = ANY($1::uuid[]) AND r.state = 'rejected' AND r.asp_reasons && $2::text[] "
        "ORDER BY p.created_seq FOR UPDATE OF p",
        list(student_ids), sorted(reasons))
    return [dict(r) for r in rows]


AddressChange = tuple[str | None, bool]  # (the fingerprint held before, whether this one was newer and kept)


async def record_addresses(conn: Connection,
                           addresses: Sequence[tuple[UUID, str, int, datetime]]) -> dict[UUID, AddressChange]:
    """Keep each student's newest fingerprint (by identity version, then occurred_at); returns what was held
    before each one. (student, fingerprint, version, occurred_at)."""
    rows = await conn.fetch(
        "WITH d AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[]) "
        "           AS d(student_id, sha, version, as_of)), "
        "old AS (SELECT a.student_id, a.address_sha256 FROM student_addresses a JOIN d USING (student_id)), "
        "up AS (INSERT INTO student_addresses (student_id, address_sha256, as_of, identity_version) "
        "       SELECT student_id, sha, as_of, version FROM d "
        "       ON CONFLICT (student_id) DO UPDATE SET address_sha256 = EXCLUDED.address_sha256, "
        "       as_of = EXCLUDED.as_of, identity_version = EXCLUDED.identity_version "
        "       WHERE (student_addresses.identity_version, student_addresses.as_of) "
        "          <= (EXCLUDED.identity_version, EXCLUDED.as_of) RETURNING student_id) "
        "SELECT d.student_id, old.address_sha256 AS held, up.student_id IS NOT NULL AS kept FROM d "
        "LEFT JOIN old USING (student_id) LEFT JOIN up USING (student_id)",
        [a[0] for a in addresses], [a[1] for a in addresses], [a[2] for a in addresses], [a[3] for a in addresses])
    return {r["student_id"]: (r["held"], r["kept"]) for r in rows}
