"""Migrations 0002 and 0003 on a schema that already holds 0001 data: the requests of the old model survive."""

from __future__ import annotations

import uuid
from importlib import resources

import pytest
from aplypro_servicekit.db import create_pool, migrate

from .calculator_world import settings_for

pytestmark = pytest.mark.integration


async def test_migration_0002_keeps_the_ready_requests_of_0001(database_url: str, namespace: str) -> None:
    schema = settings_for(namespace).db_schema("calculator")
    pool = await create_pool(database_url, schema)
    try:
        # A schema as 0001 left it, with one PFMP and its ready request.
        await migrate(pool, schema, ["aplypro_servicekit"])
        sql = (resources.files("aplypro_calculator") / "migrations" / "0001_calculator.sql").read_text()
        await pool.execute(sql)
        await pool.execute("INSERT INTO schema_migrations (name) VALUES ('aplypro_calculator:0001_calculator.sql')")
        schooling, pfmp, request = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await pool.execute("INSERT INTO schoolings VALUES ($1, $2, '0350001A', 2025, '2473121133', '{}', 'student', "
                           "2000, 100000, 'ref', NULL)", schooling, uuid.uuid4())
        await pool.execute("INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, "
                           "status, created_seq, rank) VALUES ($1, $2, $3, '2025-10-06', '2025-10-19', 10, "
                           "'validated', 1, 1)", pfmp, schooling, uuid.uuid4())
        await pool.execute("INSERT INTO payment_requests VALUES ($1, $2, 'ready', 20000)", request, pfmp)

        applied = await migrate(pool, schema, ["aplypro_servicekit", "aplypro_calculator"])
        # 0002 to 0005 in order; later migrations (issue 10 on) follow them.
        assert applied[:4] == ["aplypro_calculator:0002_request_lifecycle_exclusions.sql",
                               "aplypro_calculator:0003_evaluation_cooldown.sql",
                               "aplypro_calculator:0004_room_for_updates.sql",
                               "aplypro_calculator:0005_aggregate_versions.sql"]
        options = await pool.fetchval("SELECT reloptions FROM pg_class WHERE oid = 'pfmps'::regclass")
        assert options == ["fillfactor=80"]
        row = await pool.fetchrow("SELECT * FROM payment_requests")
        assert row is not None
        assert (row["payment_request_id"], row["state"], row["amount_cents"], row["kind"], row["reasons"]) == (
            request, "ready", 20000, "payment", [])
        assert row["seq"] is not None
        # 0003: an old request has no due time (it was evaluated at once), an old PFMP no validation time.
        assert (row["due_at"], row["cause_event_id"], row["correlation_id"]) == (None, None, None)
        assert await pool.fetchval("SELECT validated_at FROM pfmps") is None
        # 0005: old facts are version 0 (older than any versioned event), the old request version 1.
        assert (await pool.fetchval("SELECT version FROM pfmps"), row["version"], row["asp_version"]) == (0, 1, 0)
        # 0007: an old schooling's dates are unknown until it is sent again; no DA is assumed.
        dates = await pool.fetchrow("SELECT start_date, end_date FROM schoolings")
        assert dates is not None
        assert (dates["start_date"], dates["end_date"]) == (None, None)
        assert await pool.fetchval("SELECT count(*) FROM decisions") == 0
    finally:
        await pool.close()
