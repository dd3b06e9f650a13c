"""The students service's EstablishmentRegistered reaches pfmp's establishments over the real broker (its
students projection): the newest facts win, an older event (a replay) is dropped, and the schooling's copy of
the establishment never overwrites the directory's newer facts."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aplypro_contracts import Envelope, EstablishmentRegistered, SchoolingOpened, to_wire
from aplypro_contracts.students import Establishment, Mef
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.service import build_spec
from aplypro_servicekit.db import create_pool
from aplypro_servicekit.runtime import ServiceRuntime

pytestmark = [pytest.mark.integration, pytest.mark.slow]
UAI = "0999002L"


async def until(pool: asyncpg.Pool, sql: str, expected: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (value := await pool.fetchval(sql)) != expected:
        assert time.monotonic() < deadline, f"{sql} gave {value!r}, not {expected!r}"
        await asyncio.sleep(0.2)


def directory(name: str, contract: str, at: datetime) -> EstablishmentRegistered:
    return EstablishmentRegistered(producer="students", uai=UAI, name=name, ministry="MASA", academy_code="14",
                                   contract_type_code=contract, occurred_at=at)


async def test_the_directory_s_facts_reach_pfmp_and_the_newest_wins(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in service_env.items():
        monkeypatch.setenv(name, value)
    settings = PfmpSettings()
    runtime = ServiceRuntime(build_spec(settings), settings)
    await runtime.start()  # migrates the schema
    pool = await create_pool(service_env["DATABASE_URL"], settings.db_schema("pfmp"))
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()

    async def send(event: Envelope, key: str) -> None:
        body, headers = to_wire(event)
        await producer.send_and_wait(settings.topic(STUDENTS_EVENTS), body, key=key.encode(),
                                     headers=list(headers.items()))

    row = f"SELECT name || '|' || ministry || '|' || contract_type_code FROM establishments WHERE uai = '{UAI}'"
    try:
        await send(directory("Lycée agricole du Bocage", "30", datetime(2026, 3, 1, tzinfo=UTC)), UAI)
        await until(pool, row, "Lycée agricole du Bocage|MASA|30")
        # An older directory event (a replay of an earlier load), then a schooling whose copy is older still
        await send(directory("Ancien nom", "99", datetime(2025, 1, 1, tzinfo=UTC)), UAI)
        student_id = uuid.uuid4()
        await send(SchoolingOpened(
            producer="students", schooling_id=uuid.uuid4(), student_id=student_id, version=1,
            occurred_at=datetime(2025, 9, 1, tzinfo=UTC),
            establishment=Establishment(uai=UAI, name="Copie", ministry="MASA", contract_type_code="99"),
            class_label="TLE", school_year=2025, start_date=date(2025, 9, 1),
            mef=Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MASA")),
            str(student_id))
        await until(pool, "SELECT count(*) FROM schoolings WHERE mef_ministry = 'MASA'", 1)
        assert await pool.fetchval(row) == "Lycée agricole du Bocage|MASA|30"
        # A newer load changes it
        await send(directory("Lycée agricole du Bocage", "99", datetime(2026, 9, 1, tzinfo=UTC)), UAI)
        await until(pool, row, "Lycée agricole du Bocage|MASA|99")
    finally:
        await producer.stop()
        await pool.close()
        await runtime.stop()
