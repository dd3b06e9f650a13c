"""Live counts of an establishment's school year (features.md §4, "Establishment dashboard: live counts, not
snapshots"), from pfmp's projection: its schoolings, the DA, RibOnFile and payment-request facts, its PFMPs.

A PFMP belongs to the year of its schooling's class; a payment request counts by the state of the PFMP's
latest request (the gateway's state once known, else the calculator's). Amounts are integer cents.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import indicators_sql

# The establishment's schoolings of the year, then per schooling: DA, RIB and PFMP facts. A hidden schooling
# (a student who never came) counts among the schoolings but not as present nor as having a DA (§4).
_SCOPE = (
    "WITH sc AS (SELECT s.schooling_id, s.student_id, coalesce(s.class_label, '') AS class_label, "
    "  (s.end_date IS NOT NULL AND s.end_date < $3) AS left_class, "
    "  EXISTS (SELECT 1 FROM decisions d WHERE d.schooling_id = s.schooling_id AND d.kind = 'attribution') "
    "    AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.schooling_id = s.schooling_id AND d.kind = 'retrait') "
    "    AS has_da, "
    "  EXISTS (SELECT 1 FROM ribs_on_file r WHERE r.student_id = s.student_id AND r.uai = s.uai) AS has_rib, "
    "  EXISTS (SELECT 1 FROM hidden_schoolings h WHERE h.schooling_id = s.schooling_id AND h.hidden) AS hidden "
    "  FROM schoolings s WHERE s.uai = $1 AND s.school_year = $2), "
    "pf AS (SELECT p.pfmp_id, p.status, p.end_date, sc.class_label, sc.student_id, "
    "  (SELECT coalesce(r.asp_state, r.calc_state) FROM payment_requests r WHERE r.pfmp_id = p.pfmp_id "
    "   ORDER BY coalesce(r.requested_at, r.first_seen) DESC, r.payment_request_id LIMIT 1) AS request_state "
    "  FROM pfmps p JOIN sc USING (schooling_id) WHERE NOT p.deleted) "
)

# The requests of those PFMPs as the indicators see them: "Mt. payé" has one definition (indicators_sql).
_REQUESTS = f", requests AS ({indicators_sql.REQUESTS.format(pfmps='pf')}) "


class Counts(NamedTuple):
    schoolings: int
    students: int
    current: int  # students still in their class today, not hidden
    hidden: int
    with_da: int
    with_rib: int  # students with a RIB on file for this establishment
    pfmps: int
    pending: int
    completed: int
    validated: int  # validated or rectified
    validated_finished: int  # end date passed: pfmps_validated_count
    students_paid: int
    validated_cents: int  # the calculator's amounts of the validated or rectified PFMPs
    paid_cents: int  # features.md §4 payment_requests_paid_sum: the ASP's net amounts, recovery orders left out


class ClassCounts(NamedTuple):
    label: str
    students: int
    current: int
    hidden: int
    with_da: int
    with_rib: int
    pfmps: int
    completed: int
    validated: int
    paid: int


async def totals(conn: Connection, uai: str, school_year: int, today: date) -> Counts:
    row = await conn.fetchrow(_SCOPE + _REQUESTS + (
        "SELECT (SELECT count(*) FROM sc) AS schoolings, (SELECT count(DISTINCT student_id) FROM sc) AS students, "
        "(SELECT count(DISTINCT student_id) FROM sc WHERE NOT left_class AND NOT hidden) AS current, "
        "(SELECT count(*) FROM sc WHERE hidden) AS hidden, "
        "(SELECT count(*) FROM sc WHERE has_da AND NOT hidden) AS with_da, "
        "(SELECT count(DISTINCT student_id) FROM sc WHERE has_rib) AS with_rib, "
        "(SELECT count(*) FROM pf) AS pfmps, (SELECT count(*) FROM pf WHERE status = 'pending') AS pending, "
        "(SELECT count(*) FROM pf WHERE status = 'completed') AS completed, "
        "(SELECT count(*) FROM pf WHERE status IN ('validated', 'rectified')) AS validated, "
        "(SELECT count(*) FROM pf WHERE status IN ('validated', 'rectified') AND end_date <= $3) "
        "  AS validated_finished, "
        "(SELECT count(DISTINCT student_id) FROM pf WHERE request_state = 'paid') AS students_paid, "
        "(SELECT coalesce(sum(a.amount_cents), 0) FROM pf JOIN pfmp_amounts a USING (pfmp_id) "
        "  WHERE pf.status IN ('validated', 'rectified')) AS validated_cents, "
        f"(SELECT coalesce({indicators_sql.PAID_SUM}, 0) FROM requests r) AS paid_cents"),
        uai, school_year, today)
    if row is None:  # an aggregate always answers one row
        raise LookupError("no counts")
    return Counts(**{k: int(v) for k, v in dict(row).items()})


async def request_states(conn: Connection, uai: str, school_year: int, today: date) -> dict[str, int]:
    """PFMPs by the state of their latest payment request (those without one left out)."""
    rows = await conn.fetch(_SCOPE + "SELECT request_state, count(*) AS n FROM pf WHERE request_state IS NOT NULL "
                            "GROUP BY request_state", uai, school_year, today)
    return {r["request_state"]: int(r["n"]) for r in rows}


async def classes(conn: Connection, uai: str, school_year: int, today: date) -> list[ClassCounts]:
    rows = await conn.fetch(_SCOPE + (
        "SELECT sc.class_label AS label, count(DISTINCT sc.student_id) AS students, "
        "count(DISTINCT sc.student_id) FILTER (WHERE NOT sc.left_class AND NOT sc.hidden) AS current, "
        "count(DISTINCT sc.schooling_id) FILTER (WHERE sc.hidden) AS hidden, "
        "count(DISTINCT sc.schooling_id) FILTER (WHERE sc.has_da AND NOT sc.hidden) AS with_da, "
        "count(DISTINCT sc.student_id) FILTER (WHERE sc.has_rib) AS with_rib, "
        "(SELECT count(*) FROM pf WHERE pf.class_label = sc.class_label) AS pfmps, "
        "(SELECT count(*) FROM pf WHERE pf.class_label = sc.class_label AND status = 'completed') AS completed, "
        "(SELECT count(*) FROM pf WHERE pf.class_label = sc.class_label "
        "   AND status IN ('validated', 'rectified')) AS validated, "
        "(SELECT count(*) FROM pf WHERE pf.class_label = sc.class_label AND request_state = 'paid') AS paid "
        "FROM sc WHERE sc.class_label <> '' GROUP BY sc.class_label ORDER BY sc.class_label"),
        uai, school_year, today)
    return [ClassCounts(r["label"], *(int(r[k]) for k in ClassCounts._fields[1:])) for r in rows]
