"""SQL of the over-cap report (calculation.md §5.6): pools a recomputation found over their yearly cap."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters.postgres import PoolKey


async def report(conn: Connection, over: Sequence[tuple[PoolKey, int, int, UUID]], under: Sequence[PoolKey]) -> list[
        PoolKey]:
    """`over`: (pool, committed, cap, cause) found over cap; `under`: pools found within it. Returns the pools newly
    reported (not reported before, or over again after a resolution); the others only get their figures."""
    if under:
        await conn.execute(
            "UPDATE over_cap_pools o SET resolved_at = now() FROM unnest($1::uuid[], $2::text[], $3::int[]) "
            "AS u(student_id, mef_code, school_year) WHERE o.resolved_at IS NULL AND o.student_id = u.student_id "
            "AND o.mef_code = u.mef_code AND o.school_year = u.school_year",
            [k[0] for k in under], [k[1] for k in under], [k[2] for k in under])
    if not over:
        return []
    rows = await conn.fetch(
        "INSERT INTO over_cap_pools AS o (student_id, mef_code, school_year, committed_cents, cap_cents, "
        "cause_event_id) SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], "
        "$6::uuid[]) ON CONFLICT (student_id, mef_code, school_year) DO UPDATE SET "
        "committed_cents = EXCLUDED.committed_cents, cap_cents = EXCLUDED.cap_cents, "
        "cause_event_id = CASE WHEN o.resolved_at IS NULL THEN o.cause_event_id ELSE EXCLUDED.cause_event_id END, "
        "seen_at = CASE WHEN o.resolved_at IS NULL THEN o.seen_at ELSE now() END, resolved_at = NULL "
        "RETURNING student_id, mef_code, school_year, (xmax = 0 OR seen_at = now()) AS new",
        [k[0][0] for k in over], [k[0][1] for k in over], [k[0][2] for k in over], [k[1] for k in over],
        [k[2] for k in over], [k[3] for k in over])
    return [(r["student_id"], r["mef_code"], r["school_year"]) for r in rows if r["new"]]
