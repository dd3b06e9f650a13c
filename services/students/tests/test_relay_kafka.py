"""`aplypro-students run` relays the import's outbox to Kafka: the right topic, keyed by student_id."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_local.testing import read_topic
from aplypro_servicekit.runtime import ServiceRuntime
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.service import build_spec
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.reference import load_establishments, load_mefs

from .conftest import DATA, UAI

pytestmark = pytest.mark.integration


async def test_the_service_publishes_imported_events_keyed_by_student(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    settings = StudentsSettings()
    runtime = ServiceRuntime(build_spec(settings), settings)
    await runtime.start()
    try:
        assert runtime.pool is not None
        parsed = read_students_csv(DATA / "students.csv", uai=UAI)
        async with runtime.pool.acquire() as conn, conn.transaction():
            await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
            await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
            await import_students(conn, ImportStudents(UAI, parsed.records), today=date(2025, 10, 15),
                                  topic=settings.topic(STUDENTS_EVENTS))
            ids = {str(r["student_id"]).encode() for r in await conn.fetch("SELECT student_id FROM students")}
        records = await read_topic(service_env["KAFKA_BOOTSTRAP_SERVERS"], settings.topic(STUDENTS_EVENTS), expected=6)
        assert len(records) == 6
        assert {r.key for r in records} == ids
        types = sorted(dict(r.headers)["event-type"].decode() for r in records)
        assert types == ["SchoolingOpened"] * 3 + ["StudentRegistered"] * 3
        for _ in range(50):  # published rows leave the outbox
            if await runtime.pool.fetchval("SELECT count(*) FROM outbox") == 0:
                break
            await asyncio.sleep(0.1)
        assert await runtime.pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await runtime.stop()
