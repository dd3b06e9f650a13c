"""The sample establishment imported into a fresh schema: the starting point of the Postgres tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.reference import load_establishments, load_mefs

from .conftest import DATA, UAI


@asynccontextmanager
async def sample_school(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the migrated schema holding the sample school's students; their import events discarded."""
    settings = StudentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, DATABASE_URL=database_url)
    schema = settings.db_schema("students")
    pool = await create_pool(database_url, schema, size=2)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_students"])
    parsed = read_students_csv(DATA / "students.csv", uai=UAI)
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
        await import_students(conn, ImportStudents(UAI, parsed.records), today=parsed.records[0].start_date,
                              topic=settings.topic(STUDENTS_EVENTS))
        await conn.execute("DELETE FROM outbox_batch")  # only the events of the test itself matter
    try:
        yield pool
    finally:
        await pool.close()
