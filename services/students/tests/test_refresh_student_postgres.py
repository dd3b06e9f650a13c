"""refresh-student (imports.md §5.7) against the fake SYGNE over real HTTP and the real PostgreSQL.

The detail corrects identity and address; the history rewrites the dates of known schoolings and ignores
unknown ones; the detail's current class, dated by the history, opens (a class change) and closes the
previous one; each change is emitted once, a second refresh emits nothing; a 404 records ine_not_found.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aplypro_contracts import (
    SchoolingClosed,
    SchoolingOpened,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentIneStatusChanged,
    default_registry,
)
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_local.fake_sygne import FakeSygneServer
from aplypro_local.fake_sygne.sample import PREMIERE, TLE, detail_of, list_entry, schooling
from aplypro_students.adapters.sygne.client import SygneClient
from aplypro_students.adapters.sygne.settings import SygneSettings
from aplypro_students.entrypoints.cli import app
from aplypro_students.service_layer.refresh_student import RefreshReport, refresh_student
from typer.testing import CliRunner

from .conftest import DATA, UAI
from .test_sygne_import_postgres import Db, db, fake, run

pytestmark = pytest.mark.integration
__all__ = ["db", "fake"]  # fixtures shared with test_sygne_import_postgres
TODAY = date(2025, 10, 15)
MEHDI, CHLOE = "000111223AB", "000111222AA"


async def refresh(db: Db, fake: FakeSygneServer, ine: str) -> RefreshReport:
    settings = SygneSettings.model_validate({
        "base_url": fake.base_url, "token_url": fake.token_url, "client_id": "aplypro",
        "secret": "fake-sygne-secret", "backoff_base": 0.05})
    async with SygneClient(settings) as api:
        return await refresh_student(db.pool, api, ine, today=TODAY, topic=db.settings.topic(STUDENTS_EVENTS))


async def events_after(db: Db, outbox_id: int) -> list[Any]:
    rows = await db.rows("SELECT payload FROM outbox WHERE id > $1 ORDER BY id", outbox_id)
    return [default_registry().parse(r["payload"]) for r in rows]


async def last_id(db: Db) -> int:
    return int(await db.pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))


async def test_a_class_change_and_an_identity_correction_are_applied_and_emitted_once(
        db: Db, fake: FakeSygneServer) -> None:
    await run(db, fake)
    before = await last_id(db)
    # SYGNE now has Mehdi in Terminale since 1 October, under a corrected usage name and a new address
    moved = list_entry(MEHDI, "HADDAD-BERGER", "Mehdi", "2007-11-02", sexe="1")
    fake.state.details[MEHDI] = detail_of(moved, lines=("3 place Hoche",))
    fake.state.histories[MEHDI] = [
        schooling("1ERE PRO MELEC", mef=PREMIERE, start="2025-09-01", end="2025-09-30"),
        schooling("TLE PRO MELEC", mef=TLE, start="2025-10-01"),
        schooling("2NDE PRO MELEC", uai="0999009Z", year=2024, start="2024-09-02", end="2025-07-04")]
    report = await refresh(db, fake, MEHDI)
    assert (report.ine_status, report.known, report.schoolings, report.ignored, report.skipped) == (
        "ok", True, 2, 1, [])
    assert (await db.schoolings())[MEHDI] == (
        ("1ERE PRO MELEC", PREMIERE[:10], "student", date(2025, 9, 1), date(2025, 9, 30), False),
        ("TLE PRO MELEC", TLE[:10], "student", date(2025, 10, 1), None, False))
    events = await events_after(db, before)
    # a name and an address corrected in one refresh: two events, identity first, each with the full identity
    assert [type(e) for e in events] == [StudentIdentityChanged, StudentAddressChanged, SchoolingClosed,
                                         SchoolingOpened]
    assert [(e.changed, e.identity.last_name, e.identity.address.lines) for e in events[:2]] == [
        (("last_name",), "HADDAD-BERGER", ("3 place Hoche",)), (("address",), "HADDAD-BERGER", ("3 place Hoche",))]
    assert events[1].version == events[0].version + 1
    assert [e.end_date for e in events[2:]] == [date(2025, 9, 30), None]  # the closing first
    assert report.events == 4
    # the same answers again: nothing changes, nothing is emitted
    assert (await refresh(db, fake, MEHDI)).events == 0
    assert len(await events_after(db, before)) == 4


async def test_the_history_rewrites_known_dates_and_ignores_unknown_schoolings(db: Db,
                                                                              fake: FakeSygneServer) -> None:
    await run(db, fake)
    fake.state.histories[CHLOE] = [
        schooling("TLE PRO MELEC", start="2025-09-08"),  # known: its real start date
        schooling("1ERE PRO MELEC", mef=PREMIERE, year=2024, start="2024-09-02", end="2025-07-04")]  # unknown here
    report = await refresh(db, fake, CHLOE)
    assert (report.schoolings, report.ignored) == (1, 1)
    assert (await db.schoolings())[CHLOE] == (
        ("TLE PRO MELEC", TLE[:10], "student", date(2025, 9, 8), None, False),)


async def test_an_ine_sygne_no_longer_knows_is_recorded_ine_not_found_then_lifted(
        db: Db, fake: FakeSygneServer) -> None:
    await run(db, fake)
    detail = fake.state.details.pop(CHLOE)
    before = await last_id(db)
    report = await refresh(db, fake, CHLOE)
    assert (report.ine_status, report.known, report.events) == ("not_found", True, 1)
    assert await db.pool.fetchval("SELECT ine_status FROM students WHERE ine = $1", CHLOE) == "not_found"
    [event] = await events_after(db, before)
    assert isinstance(event, StudentIneStatusChanged)
    assert event.ine_status == "not_found"
    # SYGNE answers again (with a history): the block is lifted
    fake.state.details[CHLOE] = detail
    fake.state.histories[CHLOE] = [schooling("TLE PRO MELEC")]
    assert (await refresh(db, fake, CHLOE)).ine_status == "ok"
    assert await db.pool.fetchval("SELECT ine_status FROM students WHERE ine = $1", CHLOE) == "ok"


def test_refresh_student_command_reports_an_unknown_ine_clearly(cli: CliRunner, monkeypatch: pytest.MonkeyPatch,
                                                                fake: FakeSygneServer) -> None:
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    assert cli.invoke(app, ["load-establishments", str(DATA / "establishments.csv")]).exit_code == 0
    unknown = cli.invoke(app, ["refresh-student", "000999999ZZ"])
    assert unknown.exit_code == 4, unknown.output
    assert "ine_not_found: SYGNE does not know this INE; no student has it here either" in unknown.stderr
    assert "000999999ZZ" not in unknown.stderr
    malformed = cli.invoke(app, ["refresh-student", "12AB"])
    assert (malformed.exit_code, "ine.format" in malformed.stderr) == (2, True)
    assert UAI  # the sample establishment is the fake's
