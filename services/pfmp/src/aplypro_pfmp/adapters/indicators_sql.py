"""The counts and amounts of domain.indicators, computed live from pfmp's own tables for one school year, grouped
by establishment (academic pages) or by academy (public statistics). One statement per grouping.

Amounts are integer cents: a PFMP's is the calculator's latest (pfmp_amounts, from AmountComputed); a paid
request's is the ASP's net amount once reported (paid_cents), else the one its events carried, else its PFMP's;
a recovery order's is the amount it claims, summed apart. Yearly caps and daily rates are the schoolings'
barème (schooling_prices, from SchoolingPriced)."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Literal, NamedTuple

from aplypro_servicekit.db import Connection

from aplypro_pfmp.domain.budget import PREFIXES, sql_case
from aplypro_pfmp.domain.indicators import Counts

# The payment requests of the PFMPs of a CTE `{pfmps}` (with a pfmp_id), each with its state, the ASP's answer and
# its amount (the request's own, else its PFMP's); nth = 1 marks a PFMP's latest request. Shared with the
# establishment dashboard (dashboard_sql): one definition of "Mt. payé".
REQUESTS = """
    SELECT pr.pfmp_id, coalesce(pr.asp_state, pr.calc_state) AS state, pr.recovery, pr.paid_cents,
           coalesce(pr.amount_cents, (SELECT a.amount_cents FROM pfmp_amounts a WHERE a.pfmp_id = pr.pfmp_id))
               AS amount_cents,
           row_number() OVER (PARTITION BY pr.pfmp_id
                              ORDER BY coalesce(pr.requested_at, pr.first_seen) DESC, pr.payment_request_id) AS nth
    FROM payment_requests pr WHERE pr.pfmp_id IN (SELECT pfmp_id FROM {pfmps})
"""
# features.md §4 `payment_requests_paid_sum` over REQUESTS rows `r`: the ASP's net amount once reported, else the
# request's; a recovery order is not a payment (asp-exchange.md §5.4). Null when no request is paid.
PAID_SUM = "sum(coalesce(r.paid_cents, r.amount_cents)) FILTER (WHERE r.state = 'paid' AND NOT r.recovery)"

# {group}: s.uai, s.academy_code or the budget prefix; $1: academies (NULL: all), $2: school year, $3: today, $4: one UAI (NULL: all).
_COUNTS = """
WITH s AS (
    SELECT s.schooling_id, s.student_id, s.status, s.end_date, {group} AS key,
           sp.yearly_cap_cents, sp.daily_rate_cents,
           EXISTS (SELECT 1 FROM schooling_reports r WHERE r.schooling_id = s.schooling_id
                   AND r.extended_end_date IS NOT NULL) AS extended
    FROM schoolings s LEFT JOIN schooling_prices sp USING (schooling_id) LEFT JOIN establishments e ON e.uai = s.uai
    WHERE s.school_year = $2 AND ($1::text[] IS NULL OR s.academy_code = ANY($1)) AND {group} IS NOT NULL
      AND ($4::text IS NULL OR s.uai = $4)
), d AS (  -- a DA issued and not withdrawn
    SELECT schooling_id FROM decisions GROUP BY schooling_id
    HAVING bool_or(kind = 'attribution') AND NOT bool_or(kind = 'retrait')
), ready AS (  -- students whose data is ready for the ASP, their INE not reported "not found"
    SELECT st.student_id FROM students st
    WHERE st.asp_data_ready
      AND NOT EXISTS (SELECT 1 FROM student_ine_status i WHERE i.student_id = st.student_id AND i.ine_not_found)
), p AS (
    SELECT p.pfmp_id, p.student_id, p.status, p.end_date <= $3 AS finished, s.key, s.status AS schooling_status,
           s.schooling_id IN (SELECT schooling_id FROM d) AS has_da, a.amount_cents,
           (s.extended AND p.end_date > s.end_date) AS extended,
           -- calculation.md §3.5: round((end - start) x 5/7) x daily rate, no +1, no cap; half away from zero
           round((p.end_date - p.start_date) * 5 / 7.0)::bigint * s.daily_rate_cents AS theoretical_cents
    FROM pfmps p JOIN s USING (schooling_id) LEFT JOIN pfmp_amounts a ON a.pfmp_id = p.pfmp_id WHERE NOT p.deleted
), requests AS ({requests}), by_schooling AS (
    SELECT key, sum(yearly_cap_cents) AS yearly_sum, count(*) AS schoolings_count,
           count(DISTINCT student_id) AS students_count,
           count(*) FILTER (WHERE schooling_id IN (SELECT schooling_id FROM d)) AS attributive_decisions_count,
           count(DISTINCT student_id) FILTER (WHERE student_id IN (SELECT student_id FROM ribs_on_file))
               AS ribs_count,
           count(DISTINCT student_id) FILTER (WHERE student_id IN (SELECT student_id FROM ready))
               AS students_data_count
    FROM s GROUP BY key
), by_pfmp AS (
    SELECT p.key, count(*) AS pfmps_count,
           count(*) FILTER (WHERE p.finished AND p.status IN ('validated', 'rectified')) AS pfmps_validated_count,
           sum(p.amount_cents) FILTER (WHERE p.finished AND p.status IN ('validated', 'rectified'))
               AS pfmps_validated_sum,
           count(*) FILTER (WHERE p.status = 'completed') AS pfmps_completed_count,
           sum(p.amount_cents) FILTER (WHERE p.status = 'completed') AS pfmps_completed_sum,
           count(*) FILTER (WHERE p.status = 'pending') AS pfmps_incompleted_count,
           sum(p.theoretical_cents) FILTER (WHERE p.status = 'pending') AS pfmps_incompleted_sum,
           count(*) FILTER (WHERE r.state = 'paid') AS pfmps_paid_count,
           count(DISTINCT p.student_id) FILTER (WHERE r.state = 'paid') AS students_paid_count,
           count(*) FILTER (WHERE p.finished AND p.status IN ('validated', 'rectified')
                            AND p.schooling_status = 'student' AND p.has_da) AS pfmps_payable_count,
           count(*) FILTER (WHERE p.extended) AS pfmps_extended_count,
           sum(p.amount_cents) FILTER (WHERE p.extended) AS pfmps_extended_sum
    FROM p LEFT JOIN requests r ON r.pfmp_id = p.pfmp_id AND r.nth = 1 GROUP BY p.key
), by_request AS (
    SELECT p.key, count(*) FILTER (WHERE r.state = 'paid') AS payment_requests_paid_count,
           {paid_sum} AS payment_requests_paid_sum,
           sum(r.paid_cents) FILTER (WHERE r.state = 'paid' AND r.recovery) AS payment_requests_recovery_sum,
           count(*) FILTER (WHERE r.state = 'sent') AS payment_requests_sent_count,
           count(*) FILTER (WHERE r.state = 'integrated') AS payment_requests_integrated_count
    FROM requests r JOIN p USING (pfmp_id) GROUP BY p.key
)
SELECT key, {columns}
FROM by_schooling LEFT JOIN by_pfmp USING (key) LEFT JOIN by_request USING (key) ORDER BY key
"""
_GROUPS = {"uai": "s.uai", "academy": "coalesce(s.academy_code, '')",  # '': academy not given
           # the MEF's ministry; before migration 0017's replay, the establishment's
           "budget": sql_case("coalesce(s.mef_ministry, e.ministry)", "e.contract_type_code")}
_COLUMNS = ", ".join(f.name for f in fields(Counts))  # every name is unique to one of the three groupings


class Keyed(NamedTuple):
    key: str  # a UAI, an academy code or a budget prefix
    counts: Counts


async def counts(conn: Connection, *, by: Literal["uai", "academy", "budget"], school_year: int, today: date,
                 academies: list[str] | None = None, uai: str | None = None) -> list[Keyed]:
    sql = _COUNTS.format(group=_GROUPS[by], columns=_COLUMNS, requests=REQUESTS.format(pfmps="p"),
                         paid_sum=PAID_SUM)
    rows = await conn.fetch(sql, academies, school_year, today, uai)
    return [Keyed(r["key"], Counts.from_row(r)) for r in rows]


async def by_budget_prefix(conn: Connection, *, school_year: int, today: date) -> list[Keyed]:
    """The four budget prefixes in features.md §4's order, each even when empty, then `AUTRE` when some
    schoolings fall under none of them (domain.budget): the rows always add up to the national total."""
    found = {r.key: r.counts for r in await counts(conn, by="budget", school_year=school_year, today=today)}
    rows = [Keyed(prefix, found.pop(prefix, Counts())) for prefix in PREFIXES]
    return rows + [Keyed(key, value) for key, value in sorted(found.items())]


async def school_years(conn: Connection, academies: list[str] | None = None) -> list[int]:
    rows = await conn.fetch("SELECT DISTINCT school_year FROM schoolings "
                            "WHERE $1::text[] IS NULL OR academy_code = ANY($1) ORDER BY 1 DESC", academies)
    return [int(r["school_year"]) for r in rows]


async def establishment_in(conn: Connection, uai: str, academies: list[str] | None) -> bool:
    """Whether the establishment has a schooling in one of these academies (None: any)."""
    return bool(await conn.fetchval(
        "SELECT true FROM schoolings WHERE uai = $1 AND ($2::text[] IS NULL OR academy_code = ANY($2)) LIMIT 1",
        uai, academies))
