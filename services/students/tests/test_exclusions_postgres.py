"""Exclusions at import (imports.md §5.1 and §6.2, calculation.md §4), on the real PostgreSQL: a record an
exclusion covers (the establishment, or one of its MEFs, every year or one) is skipped as `excluded` and its
student never enters; an exclusion added mid-year is not a departure; operators add, list and remove them,
and a MEF row under a wholly excluded establishment is refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.exclusions import Exclusion
from aplypro_students.entrypoints.cli import app
from aplypro_students.service_layer import exclusions
from aplypro_students.service_layer.reference import load_establishments, load_mefs
from typer.testing import CliRunner

from .conftest import DATA, UAI
from .test_departures_postgres import PREMIERE, Db, WriteCsv, ine, rows

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch,
             write_csv: WriteCsv) -> AsyncIterator[Db]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    settings = StudentsSettings()
    pool = await create_pool(settings.database_url, settings.db_schema("students"), size=2)
    await migrate(pool, settings.db_schema("students"), ["aplypro_servicekit", "aplypro_students"])
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
    try:
        yield Db(pool, settings, write_csv)
    finally:
        await pool.close()


async def exclude(db: Db, mef: str | None = None, year: int | None = None) -> None:
    async with db.pool.acquire() as conn, conn.transaction():
        await exclusions.add(conn, Exclusion.of(UAI, mef, year), by="ops-1")


async def test_a_record_of_an_excluded_mef_is_skipped_and_its_student_never_enters(db: Db) -> None:
    await exclude(db, PREMIERE[1], 2025)
    await exclude(db, None, 2024)  # the whole establishment, but another year: not this import's
    summary = await db.load([*rows(range(3)), *rows(range(10, 12), PREMIERE)])
    assert [(e.line, e.code) for e in summary.excluded] == [(5, "excluded"), (6, "excluded")]
    assert summary.rejected == []  # skipped, never an error: the file is fine
    assert (summary.students, summary.schoolings) == (3, 3)
    students = {r["ine"] for r in await db.pool.fetch("SELECT ine FROM students")}
    assert students == {ine(0), ine(1), ine(2)}
    labels = {r["label"] for r in await db.pool.fetch("SELECT label FROM classes")}
    assert labels == {"TLE PRO MELEC"}
    assert "excluded" in summary.as_dict()


async def test_an_exclusion_added_mid_year_is_not_a_departure(db: Db) -> None:
    await db.load(rows(range(10)))
    before = await db.last_outbox_id()
    await exclude(db)  # the whole establishment, every year
    summary = await db.load(rows(range(10)), mode="full")
    assert (len(summary.excluded), summary.departures, summary.events) == (10, 0, 0)
    assert await db.closed() == {}
    assert await db.events_since(before) == []


async def test_operators_add_list_and_remove_exclusions(db: Db, cli: CliRunner) -> None:
    async def run(*args: str) -> tuple[int, str, str]:
        # the command runs its own event loop: off this test's loop, in a thread
        done = await asyncio.to_thread(cli.invoke, app, ["exclusions", *args])
        lines = done.stdout.strip().splitlines()  # the JSON object is the last line (logs come before)
        return done.exit_code, lines[-1] if lines else "", done.stderr

    before = await db.last_outbox_id()
    code, out, _ = await run("add", UAI.lower(), "--user", "ops-1")
    assert (code, json.loads(out)) == (0, {"added": True, "uai": UAI, "mef_code": None, "school_year": None})
    assert json.loads((await run("add", UAI, "--user", "ops-1"))[1])["added"] is False  # twice: nothing changes
    # Published once, for the calculator (keyed by UAI), in the transaction that added the row.
    [added] = await db.events_since(before)
    assert (added.event_type, added.uai, added.mef_code, added.school_year, added.excluded) == (
        "ExclusionChanged", UAI, None, None, True)
    assert await db.pool.fetchval("SELECT key FROM outbox WHERE id > $1", before) == UAI.encode()
    code, _, err = await run("add", UAI, "--mef", "12", "--user", "ops-1")
    assert (code, err.split(":")[0]) == (2, "exclusion.invalid")
    code, _, err = await run("add", UAI, "--mef", PREMIERE[1], "--user", "ops-1")
    assert (code, err.split(":")[0]) == (2, "exclusion.establishment_already_excluded")
    code, _, err = await run("add", "0000000X", "--user", "ops-1")
    assert (code, err.split(":")[0]) == (2, "uai.unknown")
    assert json.loads((await run("list"))[1]) == {"exclusions": [{"uai": UAI, "mef_code": None, "school_year": None}]}
    assert (await db.load(rows(range(2)))).students == 0
    lifted_from = await db.last_outbox_id()
    assert json.loads((await run("remove", UAI))[1])["removed"] is True
    assert json.loads((await run("remove", UAI))[1])["removed"] is False  # twice: nothing more is published
    [lifted] = await db.events_since(lifted_from)
    assert (lifted.event_type, lifted.uai, lifted.excluded) == ("ExclusionChanged", UAI, False)
    assert lifted.version > added.version  # the calculator drops the older of two changes of one row
    assert json.loads((await run("list"))[1]) == {"exclusions": []}
    assert (await db.load(rows(range(2)))).students == 2  # imported again from the next import
