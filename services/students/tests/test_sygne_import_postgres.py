"""SYGNE imports end to end: the fake SYGNE over real HTTP, the real PostgreSQL, the students schema and outbox.

A SYGNE import goes through the CSV import's row normaliser and `import_students`: the same data gives the
same state and the same events, and re-importing it emits nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import StudentIneStatusChanged, default_registry
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_local.fake_sygne import FakeSygneServer, FakeSygneState, Fault, serve
from aplypro_local.fake_sygne.sample import PREMIERE, TLE, detail_of, list_entry, sample_state, schooling
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.api_errors import ApiAuthFailed
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.adapters.sygne.client import SygneClient
from aplypro_students.adapters.sygne.settings import SygneSettings
from aplypro_students.config import StudentsSettings
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.import_sygne import SygneReport, import_sygne
from aplypro_students.service_layer.reference import load_establishments, load_mefs

from .conftest import DATA, UAI

pytestmark = pytest.mark.integration
TODAY = date(2025, 10, 15)
GRIS = "000111233AM"  # listed, but the detail answers 404


@dataclass
class Db:
    pool: asyncpg.Pool
    settings: StudentsSettings

    async def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(sql, *args)]

    async def count(self, table: str) -> int:
        return int(await self.pool.fetchval(f"SELECT count(*) FROM {table}"))

    async def schoolings(self) -> dict[str, tuple[Any, ...]]:
        """(class, MEF, status, start, end, inferred) of each student's schoolings, by INE."""
        rows = await self.rows(
            "SELECT st.ine, c.label, c.mef_code, s.status, s.start_date, s.end_date, s.end_date_inferred "
            "FROM schoolings s JOIN students st USING (student_id) JOIN classes c USING (class_id) "
            "ORDER BY st.ine, s.start_date")
        out: dict[str, tuple[Any, ...]] = {}
        for r in rows:
            out[r["ine"]] = (*out.get(r["ine"], ()), tuple(v for k, v in r.items() if k != "ine"))
        return out


async def open_db(database_url: str, settings: StudentsSettings) -> Db:
    schema = settings.db_schema("students")
    pool = await create_pool(database_url, schema, size=3)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_students"])
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
    return Db(pool, settings)


@pytest.fixture
async def db(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Db]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    db = await open_db(database_url, StudentsSettings())
    try:
        yield db
    finally:
        await db.pool.close()


@pytest.fixture
def fake() -> Iterator[FakeSygneServer]:
    with serve(sample_state()) as server:
        yield server


async def run(db: Db, fake: FakeSygneServer, *, today: date = TODAY, **options: Any) -> SygneReport:
    settings = SygneSettings.model_validate({
        "base_url": fake.base_url, "token_url": fake.token_url, "client_id": "aplypro",
        "secret": "fake-sygne-secret", "backoff_base": 0.05, "max_retry_after": 5})
    async with SygneClient(settings) as api:
        return await import_sygne(db.pool, api, UAI, 2025, today=today, topic=db.settings.topic(STUDENTS_EVENTS),
                                  concurrency=4, **options)


def reasons(entries: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    return {(e.get("ine"), e["reason"]) for e in entries}


async def test_the_sample_establishment_is_imported_with_each_awkward_case_handled(db: Db,
                                                                                   fake: FakeSygneServer) -> None:
    report = await run(db, fake)
    # Rows the CSV path would refuse are skipped with the CSV's reason codes; the others are imported.
    assert reasons(report.skipped) == {("000111228AG", "code_mef.not_eligible"), ("000111230AJ", "nom.missing"),
                                       ("000111231AK", "date_naissance.format"),
                                       ("000111232AL", "date_fin.before_start")}
    assert ("000111229AH", "duplicate_ine") in reasons(report.warnings)  # listed twice: reported, imported once
    assert (report.summary["students"], report.summary["new"], report.ine_not_found) == (6, 6, 1)
    schoolings = await db.schoolings()
    assert schoolings["000111222AA"] == (("TLE PRO MELEC", TLE[:10], "student", date(2025, 9, 1), None, False),)
    assert schoolings["000111223AB"] == (("1ERE PRO MELEC", PREMIERE[:10], "student", date(2025, 9, 1), None,
                                          False),)
    # the leaver listed with `classe: null`: class and end date from the history
    assert schoolings["000111226AE"] == (("TLE PRO MELEC", TLE[:10], "student", date(2025, 9, 1),
                                          date(2025, 12, 19), False),)
    assert schoolings["000111227AF"][0][2] == "apprentice"  # stored, never paid
    assert len(schoolings["000111229AH"]) == 1
    # the detail gave the second first name, birthplace and address of a first-seen student
    (chloe,) = await db.rows("SELECT first_names, birth_country_insee, address, identity_source FROM students "
                             "WHERE ine = '000111222AA'")
    assert (chloe["first_names"], chloe["birth_country_insee"], chloe["identity_source"]) == (
        ["Chloé", "Anne"], "99100", "sygne")
    assert json.loads(chloe["address"])["lines"] == ["12 rue des Tilleuls", "Bâtiment C"]
    assert await db.pool.fetchval("SELECT ine_status FROM students WHERE ine = $1", GRIS) == "not_found"
    # the outbox: keyed by student id, nothing personal in keys or headers, one INE status fact
    outbox = await db.rows("SELECT key, headers, payload FROM outbox ORDER BY id")
    ids = {str(r["student_id"]).encode() for r in await db.rows("SELECT student_id FROM students")}
    assert {bytes(r["key"]) for r in outbox} == ids
    for row in outbox:
        assert not any(ine.encode() in bytes(row["key"]) + str(row["headers"]).encode()
                       for ine in ("000111222AA", GRIS, "FONTAINE"))
    status = [e for e in (default_registry().parse(r["payload"]) for r in outbox)
              if isinstance(e, StudentIneStatusChanged)]
    assert [e.ine_status for e in status] == ["not_found"]
    assert [json.loads(r["headers"])["event-type"] for r in outbox].count("StudentRegistered") == 6
    kinds = await db.rows("SELECT kind, uai, school_year FROM imports WHERE kind LIKE 'students_%'")
    assert kinds == [{"kind": "students_sygne", "uai": UAI, "school_year": 2025}]


async def test_importing_the_same_data_again_changes_nothing_and_calls_no_detail(db: Db,
                                                                                 fake: FakeSygneServer) -> None:
    await run(db, fake)
    before, details = await db.count("outbox"), fake.state.requests["detail"]
    again = await run(db, fake)
    assert (again.summary["new"], again.summary["changed"], again.summary["events"]) == (0, 0, 0)
    assert await db.count("outbox") == before
    # known students in their known class: no detail call; the stored second first name is kept
    assert fake.state.requests["detail"] - details == 4  # the four refused rows are still unknown to us
    assert await db.pool.fetchval("SELECT first_names FROM students WHERE ine = '000111222AA'") == ["Chloé", "Anne"]


async def test_a_class_change_closes_the_old_schooling_and_refreshes_the_detail(db: Db) -> None:
    state = FakeSygneState()
    mehdi = list_entry("000111223AB", "HADDAD", "Mehdi", "2007-11-02", sexe="1", classe="1ERE PRO MELEC",
                       mef=PREMIERE)
    state.add_student(mehdi, detail=detail_of(mehdi, lines=("8 rue Pasteur",)))
    with serve(state) as fake:
        await run(db, fake)
        mehdi.update(classe="TLE PRO MELEC", codeMef=TLE, codeMefRatt=TLE, dateDebSco="2025-10-06")
        report = await run(db, fake)
        assert fake.state.requests["detail"] == 2  # first seen, then moved
    assert (report.summary["changed"], report.summary["schoolings_written"]) == (0, 2)
    assert (await db.schoolings())["000111223AB"] == (
        ("1ERE PRO MELEC", PREMIERE[:10], "student", date(2025, 9, 1), date(2025, 10, 5), False),
        ("TLE PRO MELEC", TLE[:10], "student", date(2025, 10, 6), None, False))


async def test_a_student_who_left_ends_the_schooling_with_the_history_date(db: Db) -> None:
    state = FakeSygneState()
    ines = list_entry("000111226AE", "LEROY", "Inès", "2008-06-21")
    state.add_student(ines, detail=detail_of(ines), history=[schooling("TLE PRO MELEC", end="2025-12-19")])
    with serve(state) as fake:
        await run(db, fake)
        assert (await db.schoolings())["000111226AE"][0][4] is None
        ines.update(classe=None, dateFinSco="2025-12-20")  # the history's date wins: it is the real one
        report = await run(db, fake)
        assert (fake.state.requests["detail"], fake.state.requests["history"]) == (1, 1)
    assert report.summary["schoolings_written"] == 1
    assert (await db.schoolings())["000111226AE"] == (
        ("TLE PRO MELEC", TLE[:10], "student", date(2025, 9, 1), date(2025, 12, 19), False),)


async def test_one_ine_with_two_identities_is_refused_and_the_rest_imports(db: Db) -> None:
    state = FakeSygneState()
    state.add_student(list_entry("000111229AH", "ROUX", "Jade", "2008-05-05"))
    state.add_student(list_entry("000111229AH", "ROUX", "Jade", "2009-05-05"))  # same INE, another person
    state.add_student(list_entry("000111222AA", "FONTAINE", "Chloé", "2008-04-17"))
    with serve(state) as fake:
        report = await run(db, fake)
    assert reasons(report.skipped) == {("000111229AH", "ine.conflicting_identity")}
    assert report.summary["students"] == 1
    assert await db.pool.fetchval("SELECT count(*) FROM students WHERE ine = '000111229AH'") == 0


async def test_a_history_that_stays_rate_limited_is_reported_and_the_rest_imports(db: Db,
                                                                                  fake: FakeSygneServer) -> None:
    fake.state.inject(Fault(429, times=1, path="scolarites", retry_after="3600"))  # SYGNE: come back in 1 h
    report = await run(db, fake)
    assert reasons(report.errors) == {("000111226AE", "history_api_unavailable"), (GRIS, "ine_not_found")}
    assert ("000111226AE", "classe.missing") in reasons(report.skipped)
    assert report.summary["students"] == 5


async def test_the_summer_freeze_skips_the_import_and_records_it(db: Db, fake: FakeSygneServer) -> None:
    report = await run(db, fake, today=date(2026, 7, 1))
    assert report.skipped == [{"reason": "summer_freeze"}]
    assert sum(fake.state.requests.values()) == 0  # SYGNE was not called at all
    assert await db.rows("SELECT kind, mode, rejected FROM imports WHERE kind = 'students_sygne'") == [
        {"kind": "students_sygne", "mode": "skipped", "rejected": json.dumps([{"reason": "summer_freeze"}])}]
    assert (await run(db, fake, today=date(2026, 7, 1), summer_freeze=False)).summary["students"] == 6


async def test_a_dry_run_writes_nothing(db: Db, fake: FakeSygneServer) -> None:
    report = await run(db, fake, dry_run=True)
    assert (report.summary["new"], report.dry_run) == (6, True)
    assert (await db.count("students"), await db.count("outbox"), await db.count("schoolings")) == (0, 0, 0)


def strip_ids(value: Any) -> Any:
    """An event without what differs between two runs: ids, correlation, timestamps, the import's source."""
    if isinstance(value, dict):
        return {k: strip_ids(v) for k, v in value.items()
                if not k.endswith("_id") and k not in ("occurred_at", "source")}
    if isinstance(value, list):
        return [strip_ids(v) for v in value]
    return value


CSV = ("annee_scolaire;ine;nom;prenoms;date_naissance;sexe;commune_naissance_insee;pays_naissance_insee;"
       "adresse_ligne1;adresse_ligne2;code_postal;commune_residence_insee;commune_residence;pays_residence_insee;"
       "classe;code_mef;statut;date_debut;date_fin\n"
       "2025-2026;000111222AA;FONTAINE;Chloé,Anne;2008-04-17;F;35238;99100;12 rue des Tilleuls;Bâtiment C;35000;"
       "35238;RENNES;99100;TLE PRO MELEC;24731211331;scolaire;2025-09-01;\n"
       "2025-2026;000111223AB;HADDAD;Mehdi;2007-11-02;M;35238;99100;8 rue Pasteur;;35000;35238;RENNES;99100;"
       "1ERE PRO MELEC;24731211321;scolaire;2025-09-01;\n"
       "2025-2026;000111226AE;LEROY;Inès;2008-06-21;F;35238;99100;;;35000;35238;RENNES;99100;TLE PRO MELEC;"
       "24731211331;scolaire;2025-09-01;2025-12-19\n")


async def test_sygne_and_csv_give_the_same_state_and_the_same_events(db: Db, database_url: str, namespace: str,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    state = FakeSygneState()
    chloe = list_entry("000111222AA", "FONTAINE", "Chloé", "2008-04-17")
    state.add_student(chloe, detail=detail_of(chloe, prenoms=("Chloé", "Anne"),
                                              lines=("12 rue des Tilleuls", "Bâtiment C")))
    mehdi = list_entry("000111223AB", "HADDAD", "Mehdi", "2007-11-02", sexe="1", classe="1ERE PRO MELEC",
                       mef=PREMIERE)
    state.add_student(mehdi, detail=detail_of(mehdi, lines=("8 rue Pasteur",)))
    ines = list_entry("000111226AE", "LEROY", "Inès", "2008-06-21", classe=None, end="2025-12-19")
    state.add_student(ines, detail=detail_of(ines), history=[schooling("TLE PRO MELEC", end="2025-12-19")])
    with serve(state) as fake:
        await run(db, fake)
    # the same data as a CSV file, imported in a schema of its own
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", f"{namespace}csv.")
    other = await open_db(database_url, StudentsSettings())
    try:
        path = tmp_path / "same.csv"
        path.write_text(CSV, encoding="utf-8")
        parsed = read_students_csv(path, uai=UAI)
        assert parsed.errors == []
        async with other.pool.acquire() as conn, conn.transaction():
            await import_students(conn, ImportStudents(UAI, parsed.records), today=TODAY,
                                  topic=other.settings.topic(STUDENTS_EVENTS))
        assert await other.schoolings() == await db.schoolings()
        columns = "ine, last_name, first_names, birth_date, sex, birth_city_insee, birth_country_insee, address"
        sql = f"SELECT {columns} FROM students ORDER BY ine"
        assert await other.rows(sql) == await db.rows(sql)
        sql = "SELECT headers, payload FROM outbox ORDER BY id"
        events = [(json.loads(r["headers"])["event-type"], strip_ids(json.loads(r["payload"])))
                  for r in await db.rows(sql)]
        assert events == [(json.loads(r["headers"])["event-type"], strip_ids(json.loads(r["payload"])))
                          for r in await other.rows(sql)]
        assert len(events) == 6
    finally:
        await other.pool.close()


async def test_refused_credentials_on_the_detail_stop_the_import_with_nothing_written(
        db: Db, fake: FakeSygneServer) -> None:
    fake.state.inject(Fault(403, times=50, path="eleves/"))  # the list passes, the detail calls are refused
    with pytest.raises(ApiAuthFailed) as caught:  # itself, not an ExceptionGroup of the concurrent calls
        await run(db, fake)
    assert caught.value.code == "api_auth_failed"
    assert (await db.count("students"), await db.count("outbox")) == (0, 0)
