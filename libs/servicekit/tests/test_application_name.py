"""Each pool's connections say which service and which of its parts they serve, in pg_stat_activity."""

from __future__ import annotations

import pytest
from aplypro_servicekit.db import application_name, create_pool


def test_the_command_of_a_service_program_names_its_connections() -> None:
    assert application_name("pfmp", argv=["/venv/bin/aplypro-pfmp", "validate", "--user", "x"]) == "pfmp validate"
    assert application_name("pfmp", argv=["/venv/bin/aplypro-pfmp", "--verbose"]) == "pfmp run"


def test_a_role_wins_and_a_spawned_process_without_one_is_a_worker() -> None:
    assert application_name("students", role="relay", argv=["/venv/bin/aplypro-students", "run"]) == "students relay"
    assert application_name("students", argv=["/usr/bin/python3", "-B", "-c", "..."]) == "students worker"
    assert len(application_name("s" * 80, argv=["aplypro-x", "run"])) == 63


@pytest.mark.integration
async def test_the_pool_connections_carry_the_name(database_url: str, namespace: str) -> None:
    schema = f"{namespace.rstrip('.')}_names"
    pool = await create_pool(database_url, schema, size=1, role="relay")
    try:
        assert await pool.fetchval("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()") \
            == f"{schema} relay"
    finally:
        await pool.close()
