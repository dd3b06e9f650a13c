"""SQL of the over-cap repair (calculation.md §5.6): pools whose committed amounts exceed the cap."""

from __future__ import annotations

from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.domain.requests import COMMITTED


async def over_cap_pools(conn: Connection) -> list[PoolKey]:
    """Pools where Σ committed > cap: the amounts frozen in the latest request of each non-deleted PFMP."""
    rows = await conn.fetch(
        "SELECT s.student_id, s.mef_code, s.school_year FROM pfmps p JOIN schoolings s USING (schooling_id) "
        "JOIN LATERAL (SELECT state, amount_cents FROM payment_requests WHERE pfmp_id = p.pfmp_id "
        "  ORDER BY seq DESC LIMIT 1) r ON true "
        "WHERE NOT p.deleted AND r.state = ANY($1::text[]) AND s.yearly_cap_cents IS NOT NULL "
        "GROUP BY s.student_id, s.mef_code, s.school_year HAVING sum(r.amount_cents) > min(s.yearly_cap_cents) "
        "ORDER BY s.school_year, s.mef_code, s.student_id",
        sorted(COMMITTED))
    return [(r["student_id"], r["mef_code"], r["school_year"]) for r in rows]
