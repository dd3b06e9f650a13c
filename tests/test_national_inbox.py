"""bench/national_inbox.py counts the messages each consumer processed from its service's inbox table."""

from __future__ import annotations

from types import ModuleType

import asyncpg
import pytest

from .bench_modules import bench_module


@pytest.fixture(scope="module")
def inbox_module() -> ModuleType:
    return bench_module("national_inbox")


def test_the_line_gives_the_total_and_each_consumer_a_student_largest_first(inbox_module: ModuleType) -> None:
    line = inbox_module.per_student_line({"pfmp payment-facts": 50, "calculator events": 150}, 10)
    assert line == "consumed per student: total=20.0 calculator:events=15.0 pfmp:payment-facts=5.0"


@pytest.mark.integration
async def test_each_consumer_s_inbox_rows_are_counted_in_its_service_s_schema(inbox_module: ModuleType,
                                                                              database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for schema, rows in (("natinbox_pfmp", [("payment-facts", 3), ("students-projection", 1)]),
                             ("natinbox_asp_gateway", [("projection", 2)])):
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; "
                               f"CREATE TABLE {schema}.processed_messages (consumer text, event_id text)")
            for consumer, count in rows:
                await conn.executemany(f"INSERT INTO {schema}.processed_messages VALUES ($1, $2)",
                                       [(consumer, f"{consumer}-{i}") for i in range(count)])
        counts = await inbox_module.consumed(database_url, "natinbox_")
    finally:
        await conn.execute("DROP SCHEMA natinbox_pfmp CASCADE; DROP SCHEMA natinbox_asp_gateway CASCADE")
        await conn.close()
    assert counts == {"pfmp payment-facts": 3, "pfmp students-projection": 1, "asp_gateway projection": 2}
