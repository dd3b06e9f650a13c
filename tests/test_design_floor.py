"""bench/design_floor.py measures what it says: the national mix of consumed messages, every one published by the
relay and claimed once by the no-op consumer's inbox, and each projection row written twice."""

from __future__ import annotations

import collections
import uuid
from collections.abc import AsyncIterator
from types import ModuleType

import asyncpg
import pytest
from aplypro_contracts import default_registry
from aplypro_contracts.registry import to_wire
from aplypro_local.testing import migrated_pool
from aplypro_servicekit.kafka import ensure_topics
from aplypro_servicekit.settings import ServiceSettings

from .bench_modules import bench_module


@pytest.fixture(scope="module")
def floor() -> ModuleType:
    return bench_module("design_floor")


def test_the_mix_is_each_students_consumed_messages_each_parsing_back(floor: ModuleType) -> None:
    events = floor.mix(3)
    assert len(events) == 3 * floor.CONSUMED_PER_STUDENT == 3 * 37
    assert len({event.event_id for _, event in events}) == len(events)
    by_student: dict[uuid.UUID, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for student, event in events:
        by_student[student][event.event_type] += 1
        if hasattr(event, "student_id"):
            assert event.student_id == student  # keyed and carried as one student, as the producers do
        body, headers = to_wire(event)
        parsed = default_registry().parse(body, headers["event-type"], headers["schema-version"])
        assert parsed == event
    assert list(by_student.values()) == [collections.Counter(floor.CONSUMED_MIX)] * 3
    documents = [event for _, event in events if event.event_type in ("DocumentIssued", "DocumentReady")]
    assert {getattr(d, "kind", None) for d in documents} == {"attribution"}  # états liquidatifs are skipped unread


def test_the_floor_is_each_phases_cost_times_what_a_student_makes(floor: ModuleType) -> None:
    consumed = floor.Cost(wall_s=9.0, process_s=2.0, postgres_s=1.5, broker_s=0.5)  # 4 s for 1,000 events
    writes = floor.Cost(wall_s=9.0, process_s=0.1, postgres_s=0.9, broker_s=0.0)  # 1 s for 500 rows
    relayed = floor.Cost(wall_s=9.0, process_s=0.5, postgres_s=0.3, broker_s=0.2)  # 1 s for 1,000 events
    result = floor.floor_ms(consumed, 1000, writes, 500, relayed, row_writes=10)
    assert result.consume_ms == pytest.approx(floor.CONSUMED_PER_STUDENT * 4.0)
    assert result.write_ms == pytest.approx(10 * 2.0)
    assert result.relay_ms == pytest.approx(floor.PRODUCED_PER_STUDENT * 1.0)
    assert result.total_ms == pytest.approx(37 * 4.0 + 20.0 + 15 * 1.0)
    assert f"-> {result.total_ms:.2f} ms" in result.line(10)
    assert f"floor/goal={result.total_ms / floor.GOAL_MS_PER_STUDENT:.2f}" in result.line(10)
    assert floor.GOAL_MS_PER_STUDENT == pytest.approx(900 * 2 * 1000 / 650_000)


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = namespace.replace(".", "_") + "floor"
    pool = await migrated_pool(database_url, schema, size=4)
    yield pool
    await pool.execute(f"DROP SCHEMA {schema} CASCADE")
    await pool.close()


@pytest.mark.integration
async def test_every_event_is_relayed_then_claimed_once_by_the_no_op_consumer(
    floor: ModuleType, pool: asyncpg.Pool, kafka_bootstrap: str, database_url: str, namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url,
                        "APLYPRO_TOPIC_NAMESPACE": namespace}.items():
        monkeypatch.setenv(name, value)
    settings = ServiceSettings()
    topic = settings.topic(floor.TOPIC)
    await ensure_topics(kafka_bootstrap, [topic], settings.topic_partitions)
    events = floor.mix(2)
    schema = await pool.fetchval("SELECT current_schema()")
    await floor.fill_outbox(pool, topic, events)

    await floor.relay_all(settings, schema, pool)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await floor.bare_read(kafka_bootstrap, topic, len(events)) == len(events)

    assert await floor.noop_consumer(settings, pool, len(events)) == len(events)
    claimed = await pool.fetchval("SELECT count(*) FROM processed_messages WHERE consumer = 'floor'")
    assert claimed == len(events)


@pytest.mark.integration
async def test_row_writes_insert_each_row_then_move_it_once(floor: ModuleType, pool: asyncpg.Pool) -> None:
    await floor.create_rows_table(pool)
    ids = [uuid.uuid4() for _ in range(1200)]  # three statements each way, the last one short
    assert await floor.row_writes(pool, ids, [uuid.uuid4() for _ in ids]) == 2400
    rows = await pool.fetch("SELECT state, version FROM floor_rows")
    assert len(rows) == 1200
    assert {(r["state"], r["version"]) for r in rows} == {("ready", 2)}
