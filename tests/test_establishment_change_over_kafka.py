"""A changed establishment end to end (issue 13), on the real broker and PostgreSQL: `load-establishments` with a
renamed establishment that now has its commune code re-publishes its schooling (SchoolingChanged, `changed`:
establishment, the next version) through the students relay, and the documents and asp-gateway consumers
(their real runtimes) apply it: documents keeps the new name for the DAs it issues next, the gateway the commune
code its next payment file sends for a student living abroad."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.entrypoints.service import build_spec as gateway_spec
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.entrypoints.service import build_spec as documents_spec
from aplypro_local.testing import read_topic
from aplypro_servicekit.runtime import ServiceRuntime
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.establishments_load import load_and_republish
from aplypro_students.entrypoints.service import build_spec as students_spec
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.reference import load_establishments, load_mefs

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DATA = Path(__file__).parents[1] / "services" / "students" / "tests" / "data"
UAI = "0999001K"
NEW_NAME = "Lycée des métiers Jean Jaurès"


async def until(pool: asyncpg.Pool, sql: str, expected: object, *args: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (value := await pool.fetchval(sql, *args)) != expected:
        assert time.monotonic() < deadline, f"{sql} gave {value!r}, not {expected!r}"
        await asyncio.sleep(0.2)


async def test_a_renamed_establishment_reaches_documents_and_the_gateway(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    for name, value in {**service_env, "APLYPRO_DOCUMENTS_STORAGE_DIR": str(tmp_path / "documents"),
                        "APLYPRO_ASP_OUTBOX_DIR": str(tmp_path / "asp-out"),
                        "APLYPRO_ASP_INBOX_DIR": str(tmp_path / "asp-in"),
                        "APLYPRO_STUDENTS_ESTABLISHMENT_REPUBLISH_YEARS": "100"}.items():  # 2025, whatever today
        monkeypatch.setenv(name, value)
    students = StudentsSettings()
    runtimes = [ServiceRuntime(students_spec(students), students),
                ServiceRuntime(documents_spec(DocumentsSettings()), DocumentsSettings()),
                ServiceRuntime(gateway_spec(AspSettings()), AspSettings())]
    for runtime in runtimes:
        await runtime.start()
    documents = gateway = None
    try:
        pool = runtimes[0].pool
        assert pool is not None
        topic = students.topic(STUDENTS_EVENTS)
        directory = read_establishments_csv(DATA / "establishments.csv")
        async with pool.acquire() as conn, conn.transaction():
            await load_establishments(conn, directory)
            await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
            records = read_students_csv(DATA / "students.csv", uai=UAI).records[:1]
            await import_students(conn, ImportStudents(UAI, records), today=date(2025, 10, 15), topic=topic)
        schooling_id = await pool.fetchval("SELECT schooling_id FROM schoolings")

        renamed = [dataclasses.replace(directory[0], name=NEW_NAME, city_insee="35238"), *directory[1:]]
        summary = await asyncio.to_thread(load_and_republish, StudentsSettings(), renamed)
        assert (summary["changed"], summary["schoolings_republished"]) == (1, 1)
        published = await read_topic(service_env["KAFKA_BOOTSTRAP_SERVERS"], topic, expected=5)
        assert [dict(r.headers)["event-type"].decode() for r in published
                if dict(r.headers)["event-type"] != b"EstablishmentRegistered"] == [
            "StudentRegistered", "SchoolingOpened", "SchoolingChanged"]

        documents = await asyncpg.create_pool(
            service_env["DATABASE_URL"], min_size=1, max_size=2,
            server_settings={"search_path": DocumentsSettings().db_schema("documents")})
        gateway = await asyncpg.create_pool(
            service_env["DATABASE_URL"], min_size=1, max_size=2,
            server_settings={"search_path": AspSettings().db_schema("asp_gateway")})
        await until(documents, "SELECT establishment->>'name' || '|' || version FROM schoolings "
                    "WHERE schooling_id = $1", f"{NEW_NAME}|2", schooling_id)
        await until(gateway, "SELECT establishment_city_insee || '|' || version FROM schoolings "
                    "WHERE schooling_id = $1", "35238|2", schooling_id)
    finally:
        for extra in (documents, gateway):
            if extra is not None:
                await extra.close()
        for runtime in reversed(runtimes):
            await runtime.stop()
