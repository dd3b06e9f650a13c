"""SQL of retries: a PFMP's latest request, and the requests a new RIB may cure."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters.postgres import PFMP_REQUESTS_FROM

# The PFMP with its pool key, its latest request and its latest paid one (the base of a rectified PFMP).
_LATEST = (
    "SELECT p.pfmp_id, s.student_id, p.status, p.deleted, p.amount_cents, s.uai, s.mef_code, s.school_year, "
    "r.payment_request_id, r.state AS request_state, r.asp_reasons, pd.amount_cents AS paid_cents "
    + PFMP_REQUESTS_FROM
)


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
