"""Shared by the documents tests: a migrated schema of its own per test, and students fed through events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    Address,
    Establishment,
    Identity,
    Mef,
    SchoolingOpened,
    SchoolingPriced,
    StudentRegistered,
)
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.service_layer.projection import Projection
from aplypro_servicekit.db import create_pool, migrate

UAI = "0690001A"
MEF = Mef(code="2473121332", dispositif="247", diploma="40025510", duration=3, year=3,
          label="BAC PRO MÉTIERS DE LA MODE - VÊTEMENT (TERMINALE)", ministry="MENJ")
SCHOOL = Establishment(uai=UAI, name="Lycée professionnel de test", address_lines=("3 rue de l'Essai",),
                       postal_code="69001", city_name="Lyon", head_name="Claire Fontaine")

Enrol = Callable[..., Awaitable[tuple[uuid.UUID, uuid.UUID]]]


def settings_for(namespace: str, **values: Any) -> DocumentsSettings:
    # The namespace is a shared setting, read under its unprefixed name: each test gets its own schema.
    return DocumentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, **values)


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = settings_for(namespace).db_schema("documents")
    assert schema != "documents"  # never the real schema
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_documents"])
    yield pool
    await pool.close()


@pytest.fixture
def enrol(pool: asyncpg.Pool) -> Enrol:
    """Feeds one student's StudentRegistered, SchoolingOpened and SchoolingPriced to the projection."""
    projection = Projection()

    async def enrol(last_name: str, first_name: str, class_label: str, *, school_year: int = 2025,
                    school: Establishment = SCHOOL) -> tuple[uuid.UUID, uuid.UUID]:
        student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
        identity = Identity(ine=f"{uuid.uuid4().int % 10**9:09d}AB", last_name=last_name, first_names=(first_name,),
                            birth_date=date(2008, 3, 14),
                            address=Address(lines=("1 place Bellecour",), postal_code="69002", city_name="Lyon"))
        events: list[tuple[Callable[[Any, Any], Awaitable[None]], Any]] = [
            (projection.on_student_registered,
             StudentRegistered(producer="students", student_id=student_id, identity=identity)),
            (projection.on_schooling_opened, SchoolingOpened(
                producer="students", schooling_id=schooling_id, student_id=student_id, establishment=school,
                class_label=class_label, school_year=school_year, mef=MEF, start_date=date(school_year, 9, 1))),
            (projection.on_schooling_priced, SchoolingPriced(
                producer="calculator", schooling_id=schooling_id, student_id=student_id,
                school_year=school_year, priced=True, daily_rate_cents=1500, yearly_cap_cents=60000)),
        ]  # fmt: skip
        for handler, event in events:
            async with pool.acquire() as conn, conn.transaction():
                await handler(conn, event)
        return student_id, schooling_id

    return enrol
