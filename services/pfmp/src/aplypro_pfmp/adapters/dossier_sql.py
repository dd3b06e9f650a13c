"""Read queries of the ASP dossier page: one schooling, its student and its PFMPs with their latest payment
request's state, from pfmp's own projection."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection


class Dossier(NamedTuple):
    schooling_id: UUID
    last_name: str
    first_names: list[str]
    uai: str
    school_year: int
    class_label: str | None
    start_date: date
    end_date: date | None


class DossierPfmp(NamedTuple):
    rank: int
    start_date: date
    end_date: date
    day_count: int | None
    status: str
    request_state: str | None
    amount_cents: int | None  # the calculator's latest amount (None: not priced yet)


async def dossier(conn: Connection, schooling_id: UUID) -> Dossier | None:
    row = await conn.fetchrow(
        "SELECT s.schooling_id, st.last_name, st.first_names, s.uai, s.school_year, s.class_label, s.start_date, "
        "s.end_date FROM schoolings s JOIN students st USING (student_id) WHERE s.schooling_id = $1", schooling_id)
    return None if row is None else Dossier(**{**dict(row), "first_names": list(row["first_names"])})


async def pfmps(conn: Connection, schooling_id: UUID) -> list[DossierPfmp]:
    rows = await conn.fetch(
        "SELECT p.rank, p.start_date, p.end_date, p.day_count, p.status, "
        "(SELECT coalesce(pr.asp_state, pr.calc_state) FROM payment_requests pr WHERE pr.pfmp_id = p.pfmp_id "
        " ORDER BY coalesce(pr.requested_at, pr.first_seen) DESC, pr.payment_request_id LIMIT 1) AS request_state, "
        "a.amount_cents FROM pfmps p LEFT JOIN pfmp_amounts a ON a.pfmp_id = p.pfmp_id "
        "WHERE p.schooling_id = $1 AND NOT p.deleted ORDER BY p.rank", schooling_id)
    return [DossierPfmp(**dict(r)) for r in rows]


async def has_payment_request(conn: Connection, schooling_id: UUID) -> bool:
    """Whether a live PFMP of the schooling has a payment request: what an état liquidatif prints."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM payment_requests pr JOIN pfmps p USING (pfmp_id) "
        "WHERE p.schooling_id = $1 AND NOT p.deleted)", schooling_id))


async def liquidation_asked_at(conn: Connection, schooling_id: UUID, action: str) -> datetime | None:
    """When an ASP agent last asked for this dossier's état liquidatif (the audit row), or None."""
    at: datetime | None = await conn.fetchval(
        "SELECT max(at) FROM pfmp_actions WHERE action = $1 AND schooling_id = $2", action, schooling_id)
    return at
