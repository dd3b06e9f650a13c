"""Imports of different establishments side by side (import-all's workers), on the real PostgreSQL.

Imports that touch different students do not wait for each other; imports that touch one student (the same
INE, or one person under two INEs) are serialised, so the second sees what the first committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import StudentRegistered, default_registry
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.service_layer.import_students import ImportStudents, ImportSummary, import_students
from aplypro_students.service_layer.reference import load_establishments, load_mefs

from .conftest import DATA, HEADER, UAI

pytestmark = pytest.mark.integration
WriteCsv = Callable[..., Path]
TODAY = date(2025, 10, 15)
OTHER_UAI = "0999002L"


def row(ine: str, name: str = "HADDAD;Mehdi") -> str:
    return (f"2025-2026;{ine};{name};2007-11-02;M;35238;99100;8 rue Pasteur;35000;35238;RENNES;99100;"
            "TLE PRO MELEC;2473121133;scolaire;2025-09-01;")


class Db:
    def __init__(self, pool: asyncpg.Pool, settings: StudentsSettings, write_csv: WriteCsv) -> None:
        self.pool, self.write_csv = pool, write_csv
        self.topic = settings.topic(STUDENTS_EVENTS)

    def command(self, uai: str, *lines: str) -> ImportStudents:
        parsed = read_students_csv(self.write_csv(HEADER, *lines), uai=uai)
        assert not parsed.errors, parsed.errors
        return ImportStudents(uai, parsed.records, parsed.errors, parsed.warnings)


@pytest.fixture
async def db(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch,
             write_csv: WriteCsv) -> AsyncIterator[Db]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    settings = StudentsSettings()
    pool = await create_pool(settings.database_url, settings.db_schema("students"), size=4)
    await migrate(pool, settings.db_schema("students"), ["aplypro_servicekit", "aplypro_students"])
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
    try:
        yield Db(pool, settings, write_csv)
    finally:
        await pool.close()


async def _while_first_is_open(db: Db, first: ImportStudents, second: ImportStudents) -> tuple[bool, ImportSummary]:
    """Import `first` in a transaction left open, start `second` beside it; whether `second` finished before
    `first` committed, and its summary once it has."""
    async with db.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await import_students(conn, first, today=TODAY, topic=db.topic)
        beside = asyncio.create_task(_load(db, second))
        done, _ = await asyncio.wait({beside}, timeout=3)
        await transaction.commit()
    return bool(done), await asyncio.wait_for(beside, 30)


async def _load(db: Db, command: ImportStudents) -> ImportSummary:
    async with db.pool.acquire() as conn, conn.transaction():
        return await import_students(conn, command, today=TODAY, topic=db.topic)


async def test_imports_of_different_students_run_side_by_side(db: Db) -> None:
    finished_beside, summary = await _while_first_is_open(
        db, db.command(UAI, row("000111223AB")), db.command(OTHER_UAI, row("000111224AC", "MARTIN;Lou")))
    assert finished_beside  # one import at a time would have waited for the first's commit
    assert (summary.new, summary.schoolings) == (1, 1)


async def test_two_imports_of_one_new_ine_are_serialised_and_make_one_student(db: Db) -> None:
    finished_beside, summary = await _while_first_is_open(
        db, db.command(UAI, row("000111223AB")), db.command(OTHER_UAI, row("000111223AB")))
    assert not finished_beside
    assert summary.new == 0  # it saw the student the first import committed
    assert await db.pool.fetchval("SELECT count(*) FROM students WHERE ine = '000111223AB'") == 1
    registered = [e for e in [default_registry().parse(r["payload"])
                              for r in await db.pool.fetch("SELECT payload FROM outbox ORDER BY id")]
                  if isinstance(e, StudentRegistered)]
    assert len(registered) == 1


async def test_two_new_ines_of_one_person_imported_at_once_flag_each_other(db: Db) -> None:
    finished_beside, summary = await _while_first_is_open(
        db, db.command(UAI, row("000111223AB")), db.command(OTHER_UAI, row("000111225AD")))
    assert not finished_beside
    assert summary.new == 1
    assert await db.pool.fetchval("SELECT count(*) FROM review_items WHERE kind = 'possible_duplicate'") == 1
