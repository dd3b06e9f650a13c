"""The statements a batch runs join its students' rows by index, whatever the size of the tables.

A national year fills the tables with hundreds of thousands of students; a statement that hashes a whole
table for each batch of a few hundred students costs more with every student added (issue 12: the
validation burst). Each statement is run as the calculator runs it, and its plan is read first.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg
from aplypro_calculator.adapters import postgres, postgres_decisions
from aplypro_servicekit.db import Connection

STUDENTS = 20_000
BATCH = 250  # students of one batch: what a consumer lane holds in a burst (500 records, two lanes)


class PlanRecorder:
    """A connection that records the plan of each statement before running it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.plans: list[dict[str, Any]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        plan = await self.conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
        self.plans.append(json.loads(plan)[0]["Plan"])
        return await self.conn.fetch(query, *args)


def sequential_scans(plan: dict[str, Any]) -> set[str]:
    found = {plan["Relation Name"]} if plan["Node Type"] == "Seq Scan" else set()
    for child in plan.get("Plans", []):
        found |= sequential_scans(child)
    return found


async def a_populated_year(conn: Connection) -> list[UUID]:
    """STUDENTS students with one schooling, its DA, two validated PFMPs and a ready request each, one in twenty
    schoolings extended (pfmp's report); analyzed."""
    await conn.execute(
        "INSERT INTO schoolings (schooling_id, student_id, uai, school_year, mef_code, mef, status, "
        "  daily_rate_cents, yearly_cap_cents, start_date, end_date) "
        "SELECT gen_random_uuid(), gen_random_uuid(), '0999001K', 2025, '2473121133', '{}', 'open', 1500, 210000, "
        "  '2025-09-01', '2026-07-04' FROM generate_series(1, $1)", STUDENTS)
    await conn.execute("INSERT INTO decisions (schooling_id, student_id, attribution_version) "
                       "SELECT schooling_id, student_id, 1 FROM schoolings")
    await conn.execute(
        "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, "
        "  created_seq, rank, version) "
        "SELECT gen_random_uuid(), schooling_id, student_id, '2025-10-01'::date + 20 * k, '2025-10-14'::date + 20 * k, "
        "  10, 'validated', k, k + 1, 2 FROM schoolings, generate_series(0, 1) AS k")
    await conn.execute("INSERT INTO payment_requests (payment_request_id, pfmp_id, state, amount_cents) "
                       "SELECT gen_random_uuid(), pfmp_id, 'ready', 15000 FROM pfmps")
    await conn.execute("INSERT INTO schooling_reports (schooling_id, student_id, extended_end_date, version) "
                       "SELECT schooling_id, student_id, '2026-08-31', 1 FROM schoolings LIMIT $1", STUDENTS // 20)
    await conn.execute("ANALYZE schoolings, decisions, pfmps, payment_requests, schooling_reports")
    return [r["student_id"] for r in await conn.fetch("SELECT student_id FROM schoolings ORDER BY random() LIMIT $1",
                                                      BATCH)]


async def test_a_batchs_gates_and_open_pools_are_read_by_index_in_a_full_year(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        students = await a_populated_year(conn)
        recorder = PlanRecorder(conn)

        spans = await postgres_decisions.student_spans(recorder, students)  # type: ignore[arg-type]
        await postgres.pools_with_open_requests(recorder, students)  # type: ignore[arg-type]

    assert len(spans) == BATCH
    assert all(len(s) == 1 for s in spans.values())
    # The tables joined to the batch's rows are probed by index; whether the batch's own rows are found by
    # an index or a scan is the planner's proportionate choice (a scan when the batch is a large share).
    gates, open_pools = (sequential_scans(plan) for plan in recorder.plans)
    assert gates.isdisjoint({"decisions", "schooling_reports"})
    assert "schoolings" not in open_pools
