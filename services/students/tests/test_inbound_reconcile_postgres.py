"""An accepted inbound schooling is reconciled like an import (real PostgreSQL): a student the CSV brought is
matched by INE and nothing is emitted for what did not change; a class change opens the new schooling and
closes the old one, each event once; a stale or unchanged version emits nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_contracts.inbound import SchoolingReported
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.inbound_schoolings import Producer, apply_reported
from aplypro_students.service_layer.reference import load_establishments, load_mefs

from .conftest import DATA, UAI

pytestmark = pytest.mark.integration
TODAY = date(2025, 10, 15)
LPM = Producer("lpm", frozenset({"MENJ"}))


@pytest.fixture
async def pool(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Pool]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    settings = StudentsSettings()
    pool = await create_pool(settings.database_url, settings.db_schema("students"), size=2)
    await migrate(pool, settings.db_schema("students"), ["aplypro_servicekit", "aplypro_students"])
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
        parsed = read_students_csv(DATA / "students.csv", uai=UAI)
        await import_students(conn, ImportStudents(UAI, parsed.records), today=TODAY, topic=STUDENTS_EVENTS)
        # The operators hand the establishment over to the producer (students provider events:lpm).
        await conn.execute("UPDATE establishments SET students_provider = 'events:lpm' WHERE uai = $1", UAI)
    try:
        yield pool
    finally:
        await pool.close()


def haddad(version: int, **schooling: Any) -> SchoolingReported:
    """HADDAD Mehdi as the CSV has him, reported by the producer (no address or birthplace: ours are kept)."""
    return SchoolingReported.model_validate({
        "event_id": uuid.uuid4(), "occurred_at": datetime(2025, 10, 1, tzinfo=UTC), "producer": "lpm",
        "correlation_id": uuid.uuid4(), "source_record_id": "LPM-1", "source_version": version,
        "student": {"ine": "000111223AB", "last_name": "HADDAD", "first_names": ["Mehdi"],
                    "birth_date": "2007-11-02", "sex": "male"},
        "schooling": {"establishment_uai": UAI, "school_year": 2025, "class_label": "TLE PRO MELEC",
                      "mef_code": "2473121133", "status": "student", "start_date": "2025-09-01",
                      "end_date": None} | schooling,
    })


async def apply(pool: asyncpg.Pool, event: SchoolingReported) -> tuple[str, list[dict[str, Any]]]:
    """Applies one event in its own transaction; returns the outcome and the events it emitted."""
    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    async with pool.acquire() as conn, conn.transaction():
        outcome = await apply_reported(conn, event, producer=LPM, topic=STUDENTS_EVENTS, today=TODAY,
                                       tolerance=timedelta(days=30))
    rows = await pool.fetch("SELECT headers, payload FROM outbox WHERE id > $1 ORDER BY id", before)
    return outcome, [{"type": json.loads(r["headers"])["event-type"], **json.loads(r["payload"])} for r in rows]


async def test_the_csv_student_is_matched_and_only_real_changes_are_emitted_once(pool: asyncpg.Pool) -> None:
    # The producer reports what the CSV already said: matched by INE, nothing changed, nothing emitted.
    assert await apply(pool, haddad(1)) == ("applied", [])
    assert await pool.fetchval("SELECT count(*) FROM students") == 3
    assert await pool.fetchval("SELECT address->>'city_name' FROM students WHERE ine = '000111223AB'") == "RENNES"

    # A class change: the new schooling opens, the old one closes the day before (§5.5), once each.
    moved = haddad(2, class_label="TLE PRO MELEC B", start_date="2025-11-03")
    outcome, emitted = await apply(pool, moved)
    assert outcome == "applied"
    assert sorted((e["type"], e["class_label"], e["end_date"]) for e in emitted) == [
        ("SchoolingClosed", "TLE PRO MELEC", "2025-11-02"), ("SchoolingOpened", "TLE PRO MELEC B", None)]

    # The same version again under another event id: stale, skipped. A newer, unchanged one: nothing emitted.
    assert await apply(pool, haddad(2, class_label="TLE PRO MELEC C")) == ("stale", [])
    assert await apply(pool, haddad(3, class_label="TLE PRO MELEC B", start_date="2025-11-03")) == ("applied", [])
    open_classes = await pool.fetch("SELECT c.label FROM schoolings s JOIN classes c USING (class_id) "
                                    "JOIN students USING (student_id) WHERE ine = '000111223AB' AND end_date IS NULL")
    assert [r["label"] for r in open_classes] == ["TLE PRO MELEC B"]
    assert await pool.fetchval("SELECT source_version FROM inbound_records WHERE producer = 'lpm'") == 3


async def test_an_identity_correction_re_emits_the_student_and_a_missing_event_infers_nothing(
        pool: asyncpg.Pool) -> None:
    corrected = haddad(1).model_copy(update={"student": haddad(1).student.model_copy(
        update={"first_names": ("Mehdi", "Karim")})})
    outcome, emitted = await apply(pool, corrected)
    assert outcome == "applied"
    assert [(e["type"], e["identity"]["first_names"], e["changed"], e["version"]) for e in emitted] == [
        ("StudentIdentityChanged", ["Mehdi", "Karim"], ["first_names"], 2)]
    # The two other students of the establishment were never reported: they stay as they were.
    assert await pool.fetchval("SELECT count(*) FROM schoolings WHERE end_date IS NULL") == 2
