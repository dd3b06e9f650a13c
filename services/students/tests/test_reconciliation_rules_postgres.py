"""One test per reconciliation rule of imports.md §5 not proven elsewhere, on the real PostgreSQL.

Each checks the state, the events written to the outbox (the right type and version, once), and that the
same data imported again writes and emits nothing. docs/reconciliation-coverage.md maps every rule to its test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    SchoolingChanged,
    SchoolingClosed,
    SchoolingOpened,
    SchoolingReopened,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentIneStatusChanged,
    StudentRegistered,
    default_registry,
)
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.service_layer.import_students import ImportStudents, ImportSummary, import_students
from aplypro_students.service_layer.ine_status import record_ine_status
from aplypro_students.service_layer.reference import load_establishments, load_mefs

from .conftest import DATA, HEADER, UAI

pytestmark = pytest.mark.integration
WriteCsv = Callable[..., Path]
TODAY = date(2025, 10, 15)  # school year 2025; 2024 is a past year
OTHER_UAI = "0999002L"
TLE = "TLE PRO MELEC;2473121133"


def row(ine: str = "000111223AB", *, name: str = "HADDAD;Mehdi", born: str = "2007-11-02;M;35238;99100",
        address: str = "8 rue Pasteur;35000;35238;RENNES;99100", cls: str = TLE, year: str = "2025-2026",
        start: str = "2025-09-01", end: str = "") -> str:
    return f"{year};{ine};{name};{born};{address};{cls};scolaire;{start};{end}"


class Db:
    def __init__(self, pool: asyncpg.Pool, settings: StudentsSettings, write_csv: WriteCsv) -> None:
        self.pool, self.settings, self.write_csv = pool, settings, write_csv
        self.topic = settings.topic(STUDENTS_EVENTS)

    async def load(self, *lines: str, uai: str = UAI, mode: str = "partial", share: float = 0.2) -> ImportSummary:
        parsed = read_students_csv(self.write_csv(HEADER, *lines), uai=uai)
        assert not parsed.errors, parsed.errors
        command = ImportStudents(uai, parsed.records, parsed.errors, parsed.warnings, mode)  # type: ignore[arg-type]
        async with self.pool.acquire() as conn, conn.transaction():
            return await import_students(conn, command, today=TODAY, topic=self.topic, max_departure_share=share)

    async def mark(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))

    async def events_since(self, mark: int) -> list[Any]:
        rows = await self.pool.fetch("SELECT payload FROM outbox WHERE id > $1 ORDER BY id", mark)
        return [default_registry().parse(r["payload"]) for r in rows]

    async def students(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(
            "SELECT student_id, ine, ine_status, birth_date, birth_city_insee, address FROM students ORDER BY ine")]

    async def schoolings(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(
            "SELECT s.schooling_id, c.uai, c.school_year, s.start_date, s.end_date, s.end_date_inferred, s.version, "
            "s.hidden_at IS NOT NULL AS hidden FROM schoolings s JOIN classes c USING (class_id) "
            "ORDER BY s.start_date, c.uai")]

    async def unchanged_on_reimport(self, *lines: str, uai: str = UAI, mode: str = "partial") -> None:
        """The rule's promise: the same data again writes and emits nothing."""
        mark, state = await self.mark(), (await self.students(), await self.schoolings())
        again = await self.load(*lines, uai=uai, mode=mode)
        assert (again.new, again.changed, again.schoolings_written, again.events) == (0, 0, 0, 0)
        assert await self.events_since(mark) == []
        assert (await self.students(), await self.schoolings()) == state


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
        for year in (2024, 2025):
            await load_mefs(conn, year, read_bcn_mefs_csv(DATA / "mefs.csv"))
    try:
        yield Db(pool, settings, write_csv)
    finally:
        await pool.close()


# §5.2: an unknown INE with the identity of a placeholder-INE student is that student, now with its real INE.
@pytest.mark.parametrize("placeholder", ["not_found", "temporary"])
async def test_a_real_ine_takes_over_the_placeholder_student_of_the_same_identity(db: Db, placeholder: str) -> None:
    if placeholder == "not_found":  # SYGNE answered 404 for the INE the school first gave
        await db.load(row("000111999ZZ"))
        async with db.pool.acquire() as conn, conn.transaction():
            await record_ine_status(conn, ["000111999ZZ"], "not_found", by="test", topic=db.topic)
    else:  # a CNED-style temporary INE (7 digits and a letter), e.g. from a recovery load
        await db.load(row("000111999ZZ"))
        await db.pool.execute("UPDATE students SET ine = '1234567A'")
    [before] = await db.students()
    mark = await db.mark()
    # the real INE arrives; the name is written another way (case, accent, hyphen): the same normalised identity
    summary = await db.load(row("000111223AB", name="Haddad;MEHDI"))
    [after] = await db.students()
    assert (after["student_id"], after["ine"], after["ine_status"]) == (before["student_id"], "000111223AB", "ok")
    assert (summary.new, summary.changed) == (0, 1)
    events = await db.events_since(mark)
    assert isinstance(events[0], StudentIdentityChanged)  # the same student id, its real INE
    assert (events[0].student_id, events[0].identity.ine) == (before["student_id"], "000111223AB")
    assert "ine" in events[0].changed
    assert events[0].version == 2
    if placeholder == "not_found":  # the ine_not_found payment gate lifts, once
        assert [(type(e), e.ine_status) for e in events[1:]] == [(StudentIneStatusChanged, "found")]
    else:
        assert len(events) == 1  # same class, same dates: no schooling event
    assert await db.pool.fetchval("SELECT count(*) FROM review_items") == 0
    await db.unchanged_on_reimport(row("000111223AB", name="Haddad;MEHDI"))


# §5.2: two INEs of the national pattern are never merged automatically: a new student, and a review item.
async def test_two_national_ines_of_one_identity_make_two_students_and_one_review_item(db: Db) -> None:
    await db.load(row("000111223AB"))
    mark = await db.mark()
    summary = await db.load(row("000111224AC", name="HADDAD;Mehdi", cls="1ERE PRO MELEC;2473121132"))
    assert (summary.new, summary.changed) == (1, 0)
    first, second = await db.students()
    items = await db.pool.fetch("SELECT kind, student_id, other_student_id, resolved_at FROM review_items")
    assert [tuple(i) for i in items] == [("possible_duplicate", second["student_id"], first["student_id"], None)]
    registered = [e for e in await db.events_since(mark) if isinstance(e, StudentRegistered)]
    assert [e.student_id for e in registered] == [second["student_id"]]  # the first one is left alone
    await db.unchanged_on_reimport(row("000111224AC", name="HADDAD;Mehdi", cls="1ERE PRO MELEC;2473121132"))
    assert await db.pool.fetchval("SELECT count(*) FROM review_items") == 1  # not flagged twice


# §5.6 "Comes back": the same (student, class) schooling reopens in the current year, as its next version.
async def test_a_student_who_comes_back_reopens_the_same_schooling(db: Db) -> None:
    others = [row(f"00011130{n}AB", name=f"NOM{n};Prenom") for n in range(5)]
    await db.load(row(), *others)
    departure = await db.mark()
    await db.load(*others, mode="full")  # absent from a snapshot: closed today, inferred (1 of 6 < 20 %)
    [closed] = [s for s in await db.schoolings() if s["end_date"] is not None]
    assert (closed["end_date"], closed["end_date_inferred"], closed["version"]) == (TODAY, True, 2)
    mark = await db.mark()
    summary = await db.load(row(), *others, mode="full")
    assert (summary.changes.schoolings_opened, summary.changes.schoolings_closed) == (1, 0)
    [reopened] = [s for s in await db.schoolings() if s["schooling_id"] == closed["schooling_id"]]
    assert (reopened["end_date"], reopened["end_date_inferred"], reopened["version"]) == (None, False, 3)
    closing, event = await db.events_since(departure)  # the departure's closing, then the reopening
    assert isinstance(closing, SchoolingClosed)
    assert (closing.end_date, closing.end_date_inferred, closing.version) == (TODAY, True, 2)
    assert await db.events_since(mark) == [event]
    assert isinstance(event, SchoolingReopened)
    assert (event.schooling_id, event.end_date, event.version) == (closed["schooling_id"], None, 3)
    await db.unchanged_on_reimport(row(), *others, mode="full")


# §5.6 "Changes establishment" / several schoolings in one year: the new school's import opens the new one and
# closes the old one the day before (§5.5); both stay, each with its own events.
async def test_a_transfer_gives_two_schoolings_in_the_year_the_first_closing_the_day_before(db: Db) -> None:
    await db.load(row())
    mark = await db.mark()
    moved = row(cls="1ERE PRO MELEC;2473121132", start="2025-11-03")
    summary = await db.load(moved, uai=OTHER_UAI)
    assert (summary.changes.schoolings_opened, summary.changes.schoolings_closed,
            summary.changes.class_changes) == (1, 1, 1)
    first, second = await db.schoolings()
    assert (first["uai"], first["end_date"], first["end_date_inferred"], first["version"]) == (
        UAI, date(2025, 11, 2), False, 2)
    assert (second["uai"], second["start_date"], second["end_date"], second["version"]) == (
        OTHER_UAI, date(2025, 11, 3), None, 1)
    events = await db.events_since(mark)
    assert [(type(e), e.establishment.uai, e.end_date, e.version) for e in events] == [
        (SchoolingClosed, UAI, date(2025, 11, 2), 2), (SchoolingOpened, OTHER_UAI, None, 1)]  # closing first
    await db.unchanged_on_reimport(moved, uai=OTHER_UAI)


# §5.2: each source is the authority for birth data; a correction of birth date, birthplace and address emits
# StudentIdentityChanged (birth date) and StudentAddressChanged (birthplace, address) once each, identity
# first, each with the full new identity, its own version and the changed field names; no schooling event.
async def test_corrections_of_birth_data_and_address_re_emit_the_student_once(db: Db) -> None:
    await db.load(row())
    mark = await db.mark()
    corrected = row(born="2007-11-03;M;29019;99100", address="3 impasse du Port;29900;29039;CONCARNEAU;99100")
    summary = await db.load(corrected)
    assert (summary.new, summary.changed, summary.schoolings_written) == (0, 1, 0)
    [student] = await db.students()
    assert (student["birth_date"], student["birth_city_insee"]) == (date(2007, 11, 3), "29019")
    identity, address = await db.events_since(mark)
    assert (type(identity), identity.changed, identity.version) == (StudentIdentityChanged, ("birth_date",), 2)
    assert (type(address), address.changed, address.version) == (
        StudentAddressChanged, ("address", "birth_city_insee"), 3)
    for event in (identity, address):  # each carries the full new state
        assert (event.identity.birth_date, event.identity.birth_city_insee) == (date(2007, 11, 3), "29019")
        assert (event.identity.address.lines, event.identity.address.city_name) == (
            ("3 impasse du Port",), "CONCARNEAU")
    assert await db.pool.fetchval("SELECT version FROM students") == 3
    await db.unchanged_on_reimport(corrected)


# §5.2: an address alone corrected is StudentAddressChanged alone, naming the address only.
async def test_an_address_correction_alone_emits_only_student_address_changed(db: Db) -> None:
    await db.load(row())
    mark = await db.mark()
    moved = row(address="3 impasse du Port;29900;29039;CONCARNEAU;99100")
    await db.load(moved)
    [event] = await db.events_since(mark)
    assert (type(event), event.changed, event.version) == (StudentAddressChanged, ("address",), 2)
    assert (event.identity.last_name, event.identity.address.postal_code) == ("HADDAD", "29900")
    await db.unchanged_on_reimport(moved)


# §5.10: a first sight is StudentRegistered v2 at version 1; a start date or status corrected on an open
# schooling is SchoolingChanged naming those fields, the schooling's next version.
async def test_a_corrected_start_date_and_status_are_a_schooling_changed(db: Db) -> None:
    mark = await db.mark()
    await db.load(row())
    registered, opened = await db.events_since(mark)
    assert (type(registered), registered.version) == (StudentRegistered, 1)
    assert (type(opened), opened.version) == (SchoolingOpened, 1)
    mark = await db.mark()
    corrected = row(start="2025-09-08").replace(";scolaire;", ";apprenti;")
    await db.load(corrected)
    [event] = await db.events_since(mark)
    assert isinstance(event, SchoolingChanged)
    assert (event.changed, event.start_date, event.status, event.end_date, event.version) == (
        ("status", "start_date"), date(2025, 9, 8), "apprentice", None, 2)
    assert event.schooling_id == opened.schooling_id
    await db.unchanged_on_reimport(corrected)


# §5.4: a past school year is never reopened by an open-ended record; its end moves only on an explicit date.
async def test_a_past_year_is_never_reopened_and_moves_only_on_an_explicit_date(db: Db) -> None:
    ended = row(year="2024-2025", start="2024-09-02", end="2025-06-30")
    await db.load(ended)
    mark = await db.mark()
    open_ended = row(year="2024-2025", start="2024-09-02")
    summary = await db.load(open_ended)
    assert (summary.schoolings_written, summary.events) == (0, 0)
    assert [s["end_date"] for s in await db.schoolings()] == [date(2025, 6, 30)]
    later = row(year="2024-2025", start="2024-09-02", end="2025-07-04")
    await db.load(later)
    [schooling] = await db.schoolings()
    assert (schooling["end_date"], schooling["version"]) == (date(2025, 7, 4), 2)
    assert [(type(e), e.end_date, e.version, e.changed) for e in await db.events_since(mark)] == [
        (SchoolingChanged, date(2025, 7, 4), 2, ("end_date",))]  # a new end date, not a closing
    await db.unchanged_on_reimport(later)


# §5.9: imports may update a hidden schooling's dates but never un-hide it.
async def test_an_import_never_un_hides_a_hidden_schooling(db: Db) -> None:
    await db.load(row())
    await db.pool.execute("UPDATE schoolings SET hidden_at = now()")
    await db.unchanged_on_reimport(row())
    await db.load(row(start="2025-09-08"))
    [schooling] = await db.schoolings()
    assert (schooling["start_date"], schooling["hidden"]) == (date(2025, 9, 8), True)
