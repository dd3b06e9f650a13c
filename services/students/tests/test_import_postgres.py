"""Imports against the real PostgreSQL: state, outbox rows (topic, key, type), idempotence, all-or-nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    SchoolingClosed,
    SchoolingOpened,
    SchoolingState,
    StudentRegistered,
    StudentState,
    default_registry,
)
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.report import InvalidFile
from aplypro_students.service_layer.import_students import ImportStudents, ImportSummary, import_students
from aplypro_students.service_layer.reference import load_establishments, load_mefs

from .conftest import DATA, GOOD_ROW, HEADER, UAI

pytestmark = pytest.mark.integration
WriteCsv = Callable[..., Path]
TODAY = date(2025, 10, 15)


class Db:
    def __init__(self, pool: asyncpg.Pool, settings: StudentsSettings) -> None:
        self.pool, self.settings = pool, settings
        self.schema = settings.db_schema("students")

    async def import_file(self, path: Path, *, uai: str = UAI, accept_valid_rows: bool = False) -> ImportSummary:
        parsed = read_students_csv(path, uai=uai)
        command = ImportStudents(uai, parsed.records, parsed.errors, parsed.warnings,
                                 accept_valid_rows=accept_valid_rows)
        async with self.pool.acquire() as conn, conn.transaction():
            return await import_students(conn, command, today=TODAY, topic=self.settings.topic(STUDENTS_EVENTS))

    async def count(self, table: str) -> int:
        return int(await self.pool.fetchval(f"SELECT count(*) FROM {table}"))

    async def outbox(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch("SELECT topic, key, headers, payload FROM outbox ORDER BY id")]


@pytest.fixture
async def db(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Db]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)  # its own schema and topic names
    settings = StudentsSettings()
    pool = await create_pool(settings.database_url, settings.db_schema("students"), size=2)
    await migrate(pool, settings.db_schema("students"), ["aplypro_servicekit", "aplypro_students"])
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
    try:
        yield Db(pool, settings)
    finally:
        await pool.close()


async def test_an_import_writes_students_schoolings_and_their_events(db: Db) -> None:
    summary = await db.import_file(DATA / "students.csv")
    assert (summary.students, summary.new, summary.changed, summary.schoolings, summary.events) == (3, 3, 0, 3, 6)
    assert (await db.count("students"), await db.count("schoolings"), await db.count("classes")) == (3, 3, 2)
    rows = await db.outbox()
    student_ids = {str(r["student_id"]).encode() for r in await db.pool.fetch("SELECT student_id FROM students")}
    assert {r["topic"] for r in rows} == {db.settings.topic(STUDENTS_EVENTS)}
    assert db.settings.topic(STUDENTS_EVENTS).endswith(".aplypro.students.events")
    assert {bytes(r["key"]) for r in rows} == student_ids  # keyed by the internal id, never the INE
    registry = default_registry()
    for key in student_ids:
        events = [registry.parse(r["payload"]) for r in rows if bytes(r["key"]) == key]
        assert [type(e) for e in events] == [StudentRegistered, SchoolingOpened]  # identity first
        assert [json.loads(r["headers"])["event-type"] for r in rows if bytes(r["key"]) == key] == [
            "StudentRegistered", "SchoolingOpened"]
    opened = [e for e in map(registry.parse, (r["payload"] for r in rows)) if isinstance(e, SchoolingOpened)]
    leroy = next(e for e in opened if e.end_date is not None)
    assert (leroy.establishment.name, leroy.establishment.head_name) == ("Lycée professionnel Jean Jaurès",
                                                                         "Mme Claire Dupont")
    assert (leroy.mef.code, leroy.mef.diploma, leroy.mef.year, leroy.mef.ministry) == ("2473121133", "40025510",
                                                                                       3, "MENJ")
    assert (leroy.school_year, leroy.class_label, leroy.end_date) == (2025, "TLE PRO MELEC", date(2025, 12, 19))
    assert {e.status for e in opened} == {"student", "apprentice"}
    assert len({e.correlation_id for e in opened}) == 1  # one import, one correlation id


async def test_a_second_identical_import_writes_no_new_events(db: Db) -> None:
    await db.import_file(DATA / "students.csv")
    before = await db.outbox()
    again = await db.import_file(DATA / "students.csv")
    assert (again.students, again.new, again.changed, again.schoolings_written, again.events) == (3, 0, 0, 0, 0)
    assert await db.outbox() == before
    assert await db.count("imports") == 4  # establishments, MEFs and both imports are recorded


async def test_a_correction_and_a_class_change_emit_only_what_changed(db: Db, write_csv: WriteCsv) -> None:
    await db.import_file(write_csv(HEADER, GOOD_ROW))
    emitted = len(await db.outbox())
    renamed_and_moved = GOOD_ROW.replace("HADDAD", "HADDAD-NOUR").replace(
        "TLE PRO MELEC;2473121133;scolaire;2025-09-01", "1ERE PRO MELEC;2473121132;scolaire;2025-10-06")
    summary = await db.import_file(write_csv(HEADER, renamed_and_moved))
    assert (summary.new, summary.changed, summary.schoolings_written, summary.events) == (0, 1, 2, 3)
    types = [json.loads(r["headers"])["event-type"] for r in (await db.outbox())[emitted:]]
    assert types == ["StudentIdentityChanged", "SchoolingClosed", "SchoolingOpened"]
    ends = await db.pool.fetch("SELECT end_date FROM schoolings ORDER BY start_date")
    assert [r["end_date"] for r in ends] == [date(2025, 10, 5), None]  # the old class closed the day before
    # Each schooling event carries its schooling's version: the closed one changed (2), the new one is 1.
    emitted_events = [default_registry().parse(r["payload"]) for r in (await db.outbox())]
    versions = [(e.event_type, e.end_date, e.version) for e in emitted_events if isinstance(e, SchoolingState)]
    assert versions == [("SchoolingOpened", None, 1), ("SchoolingClosed", date(2025, 10, 5), 2),
                        ("SchoolingOpened", None, 1)]
    closed = next(e for e in emitted_events if isinstance(e, SchoolingClosed))
    assert closed.end_date_inferred is False  # the day before the new class started: known, not inferred
    # The student: registered at version 1, renamed at version 2 with only the changed field named.
    students = [(e.event_type, e.version, getattr(e, "changed", None), e.identity.last_name)
                for e in emitted_events if isinstance(e, StudentState)]
    assert students == [("StudentRegistered", 1, None, "HADDAD"),
                        ("StudentIdentityChanged", 2, ("last_name",), "HADDAD-NOUR")]


async def test_a_file_with_one_bad_row_imports_nothing(db: Db, write_csv: WriteCsv) -> None:
    bad_date = GOOD_ROW.replace("000111223AB", "000111224AC").replace("2007-11-02", "2007-02-30")
    with pytest.raises(InvalidFile) as caught:
        await db.import_file(write_csv(HEADER, GOOD_ROW, bad_date))
    assert [(e.line, e.column, e.code) for e in caught.value.errors] == [
        (3, "date_naissance", "date_naissance.format")]
    assert (await db.count("students"), await db.count("schoolings"), await db.count("outbox")) == (0, 0, 0)


async def test_a_mef_outside_the_year_list_refuses_its_row(db: Db, write_csv: WriteCsv) -> None:
    not_eligible = GOOD_ROW.replace("000111223AB", "000111224AC").replace("2473121133", "2473121199")
    path = write_csv(HEADER, GOOD_ROW, not_eligible)
    with pytest.raises(InvalidFile) as caught:
        await db.import_file(path)
    assert [(e.line, e.code) for e in caught.value.errors] == [(3, "code_mef.not_eligible")]
    assert await db.count("outbox") == 0
    summary = await db.import_file(path, accept_valid_rows=True)  # the valid rows go, the others are reported
    assert (summary.new, [(e.line, e.code) for e in summary.rejected]) == (1, [(3, "code_mef.not_eligible")])


async def test_an_unknown_establishment_imports_nothing(db: Db) -> None:
    with pytest.raises(InvalidFile) as caught:
        await db.import_file(DATA / "students.csv", uai="0999009Z")
    assert [(e.column, e.code) for e in caught.value.errors] == [("uai", "uai.unknown")]


async def test_rows_of_one_student_together_give_the_identity(db: Db, write_csv: WriteCsv) -> None:
    # two classes in the year; the second row leaves the address empty: the first row's address is kept
    second = GOOD_ROW.replace("8 rue Pasteur", "").replace("TLE PRO MELEC;2473121133", "1ERE PRO MELEC;2473121132")
    summary = await db.import_file(write_csv(HEADER, GOOD_ROW, second))
    assert (summary.students, summary.schoolings) == (1, 2)
    registry = default_registry()
    (registered,) = [e for e in (registry.parse(r["payload"]) for r in await db.outbox())
                     if isinstance(e, StudentRegistered)]
    assert registered.identity.address.lines == ("8 rue Pasteur",)
