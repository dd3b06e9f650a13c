"""The build's read of pending requests costs what its ids cost, not what the tables hold: every table it reads is
probed by index, never scanned whole. With plain joins and EXISTS the planner hashed whole tables once the
projection was large (at 100,000 students each read of 1,000 requests scanned every student, schooling, RIB, DA,
cap and file record: 270–370 ms against 60–70 ms by probes), a cost that grows with the year, not with the file."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo

pytestmark = pytest.mark.integration

STUDENTS = 20_000  # enough rows for the planner to prefer hashing whole tables to 1,000 index probes
READ = 1_000  # READ_CHUNK: ids a read statement
LARGE = ("payment_requests", "students", "schoolings", "ribs", "schooling_caps", "attributive_decisions",
         "file_records")

SEED = """
INSERT INTO students (student_id, last_name, first_names, birth_date, sex, as_of)
SELECT md5('st' || n)::uuid, 'NOM', ARRAY['Prénom'], DATE '2008-01-01', 'F', now() FROM generate_series(1, $1) n;
INSERT INTO schoolings (schooling_id, student_id, uai, contract_type_code, mef_code, mef_ministry, school_year, status,
                        start_date, as_of)
SELECT md5('sc' || n)::uuid, md5('st' || n)::uuid, '0750001A', '01', '24023406310', 'MENJ', 2025, 'student',
       DATE '2025-09-01', now() FROM generate_series(1, $1) n;
INSERT INTO ribs (student_id, uai, rib_id, owner_type, holder_name, iban, bic, as_of)
SELECT md5('st' || n)::uuid, '0750001A', md5('rib' || n)::uuid, 'student', 'NOM', 'FR7630006000011234567890189',
       'AGRIFRPP', now() FROM generate_series(1, $1) n;
INSERT INTO schooling_caps (schooling_id, as_of) SELECT md5('sc' || n)::uuid, now() FROM generate_series(1, $1) n;
INSERT INTO attributive_decisions (schooling_id, student_id, number, version, issued_at)
SELECT md5('sc' || n)::uuid, md5('st' || n)::uuid, 'DA' || n, 1, now() FROM generate_series(1, $1) n;
INSERT INTO asp_files (file_name, name_stamp, record_count, sha256, content) VALUES ('f1', now(), $1, 'x', '');
-- Per student a first PFMP already sent (its file record) and a second one pending.
INSERT INTO payment_requests (payment_request_id, pfmp_id, schooling_id, student_id, amount_cents, day_count,
                              pfmp_rank, requested_event_id, correlation_id, requested_at, state, file_name)
SELECT md5(k || n)::uuid, md5('pf' || k || n)::uuid, md5('sc' || n)::uuid, md5('st' || n)::uuid, 10000, 10, r,
       md5('ev' || k || n)::uuid, md5('co' || k || n)::uuid, now(), s, f
FROM generate_series(1, $1) n, (VALUES ('sent', 1, 'sent', 'f1'), ('pend', 2, 'pending', NULL)) AS v(k, r, s, f);
INSERT INTO file_records (payment_request_id, file_name, record_id, pfmp_id, first_payment)
SELECT md5('sent' || n)::uuid, 'f1', n, md5('pfsent' || n)::uuid, true FROM generate_series(1, $1) n;
"""


def scans(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(node type, relation, alias) of every node of the plan that reads a table."""
    found = [(plan["Node Type"], plan["Relation Name"], plan["Alias"])] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


async def test_the_build_reads_its_requests_by_index_probes_whatever_the_tables_hold(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for statement in SEED.strip().split(";\n"):
            if statement.strip():
                await conn.execute(statement.replace("$1", str(STUDENTS)))
        await conn.execute("ANALYZE " + ", ".join(LARGE))
        ids = [r[0] for r in await conn.fetch("SELECT payment_request_id FROM payment_requests WHERE state = 'pending' "
                                              "ORDER BY record_id LIMIT $1", READ)]
        plan = json.loads(await conn.fetchval("EXPLAIN (FORMAT JSON) " + requests_repo._READ, ids))[0]["Plan"]
        read = await requests_repo.read_requests(conn, ids)

    # The requests themselves (`pr`) may be scanned: one pass a statement, which the planner leaves for an index
    # once the table is large against the 1,000 ids. Every table joined to them or asked about is probed.
    joined = sorted({table for node, table, alias in scans(plan)
                     if node == "Seq Scan" and table in LARGE and alias != "pr"})
    assert joined == []
    # The read still finds each request's rows, and the first PFMP's file record is not this PFMP's.
    assert len(read) == READ
    assert all(r.student and r.schooling and r.rib and r.da_number for r in read)
    assert not any(r.first_payment_sent or r.pfmp_in_flight or r.pfmp_unpaid for r in read)
