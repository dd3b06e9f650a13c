"""FREGATA imports end to end: the fake FREGATA over real HTTP, the real PostgreSQL, the students schema and outbox.

A FREGATA import goes through the CSV import's row normaliser and `import_students`: the same data gives the
same state and the same events, and re-importing it emits nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_local.fake_fregata import FakeFregataServer, FakeFregataState, Fault, serve
from aplypro_local.fake_fregata.sample import PREMIERE, SECONDE, address, inscription, sample_state
from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiUnavailable
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.adapters.fregata.client import FregataClient
from aplypro_students.adapters.fregata.settings import FregataSettings
from aplypro_students.config import StudentsSettings
from aplypro_students.service_layer.import_fregata import FregataReport, import_fregata
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.reference import load_mefs

from .conftest import DATA
from .test_sygne_import_postgres import Db, open_db, strip_ids

pytestmark = pytest.mark.integration
TODAY = date(2025, 10, 15)
UAI = "0999002L"  # the agricultural school of the reference sample
PERSONAL = ("000111224", "DIALLO", "Aminata", "2009-09-30", "Chênes")


async def open_masa_db(database_url: str) -> Db:
    db = await open_db(database_url, StudentsSettings())
    async with db.pool.acquire() as conn, conn.transaction():
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs_masa.csv"))
    return db


@pytest.fixture
async def db(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Db]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    db = await open_masa_db(database_url)
    try:
        yield db
    finally:
        await db.pool.close()


@pytest.fixture
def fake() -> Iterator[FakeFregataServer]:
    with serve(sample_state()) as server:
        yield server


async def run(db: Db, fake: FakeFregataServer, *, today: date = TODAY, **options: Any) -> FregataReport:
    settings = FregataSettings.model_validate({
        "base_url": fake.base_url, "key_id": "aplypro", "secret": "fake-fregata-secret", "backoff_base": 0.05,
        "auth_retry_delay": 0.02, "max_attempts": 3})
    async with FregataClient(settings) as api:
        return await import_fregata(db.pool, api, UAI, 2025, today=today, topic=db.settings.topic(STUDENTS_EVENTS),
                                    **options)


def reasons(entries: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    return {(e.get("ine"), e["reason"]) for e in entries}


def counts(report: FregataReport) -> tuple[int, ...]:
    out = report.as_dict()
    return tuple(out[k] for k in ("students", "schoolings_opened", "schoolings_closed", "class_changes", "unchanged"))


async def test_the_sample_school_is_imported_with_each_awkward_case_handled(db: Db, fake: FakeFregataServer) -> None:
    report = await run(db, fake)
    # rows the CSV path would refuse are skipped with the CSV's reason codes, the INE when there is a valid one
    assert reasons(report.skipped) == {
        ("000111240AU", "code_mef.not_eligible"), ("000111242AW", "nom.missing"), (None, "ine.missing"),
        ("000111243AX", "date_naissance.format"), ("000111244AY", "date_fin.before_start"),
        ("000111246BA", "statut.value")}
    assert reasons(report.warnings) == {("000111241AV", "duplicate_ine"), ("000111239AT", "statut.other"),
                                        ("000111245AZ", "sexe.unknown")}
    assert report.errors == []
    # 8 students; 8 schoolings opened, 2 of them arriving ended (the leavers)
    assert counts(report) == (8, 8, 2, 0, 0)
    schoolings = await db.schoolings()
    assert "000111235AP" not in schoolings  # the MENJ learner hosted here (estEN): no student, no class
    assert await db.pool.fetchval("SELECT count(*) FROM students WHERE ine = '000111235AP'") == 0
    assert schoolings["000111224AC"] == (("2NDE PRO AGROEQUIP", SECONDE[:10], "student", date(2025, 9, 1), None,
                                          False),)
    assert schoolings["000111234AN"][0][:2] == ("1ERE PRO AGROEQUIP", PREMIERE[:10])
    assert schoolings["000111236AQ"][0][4] == date(2025, 11, 28)  # left: dateSortieFormation
    assert schoolings["000111237AR"][0][4] == date(2025, 12, 5)  # left: only dateSortieEtablissement
    assert schoolings["000111238AS"][0][2] == "apprentice"  # stored, never paid
    assert schoolings["000111239AT"][0][2] == "other"
    assert len(schoolings["000111241AV"]) == 1  # listed twice, imported once
    (aminata,) = await db.rows("SELECT first_names, sex, birth_city_insee, birth_country_insee, address, "
                               "identity_source FROM students WHERE ine = '000111224AC'")
    assert {k: v for k, v in aminata.items() if k != "address"} == {
        "first_names": ["Aminata"], "sex": "female", "birth_city_insee": "35238", "birth_country_insee": "99100",
        "identity_source": "fregata"}
    # the priority address only, structured: street lines, postcode, commune, city parsed from line 6
    assert json.loads(aminata["address"]) == {
        "lines": ["Résidence Les Genêts", "4 allée des Chênes"], "postal_code": "35000", "city_insee": "35238",
        "city_name": "RENNES", "country_insee": "99100"}
    assert await db.pool.fetchval("SELECT sex FROM students WHERE ine = '000111245AZ'") == "unknown"
    outbox = await db.rows("SELECT key, headers FROM outbox ORDER BY id")
    assert len(outbox) == 16  # 8 StudentRegistered, 8 SchoolingOpened
    for row in outbox:  # keyed by student id: nothing personal in keys or headers
        assert not any(p.encode() in bytes(row["key"]) + str(row["headers"]).encode() for p in PERSONAL)
    assert await db.rows("SELECT kind, uai, school_year FROM imports WHERE kind LIKE 'students_%'") == [
        {"kind": "students_fregata", "uai": UAI, "school_year": 2025}]


async def test_importing_the_same_data_again_changes_nothing(db: Db, fake: FakeFregataServer) -> None:
    await run(db, fake)
    before = await db.count("outbox")
    again = await run(db, fake)
    assert counts(again) == (8, 0, 0, 0, 8)
    assert again.summary["events"] == 0
    assert await db.count("outbox") == before


async def test_a_class_change_closes_the_old_schooling_the_day_before(db: Db) -> None:
    state = FakeFregataState()
    aminata = inscription("000111224AC", "DIALLO", "Aminata", "2009-09-30")
    state.add(aminata, uai=UAI, school_year=2025)
    with serve(state) as fake:
        await run(db, fake)
        aminata.update(division={"libelle": "1ERE PRO AGROEQUIP"}, dateEntreeFormation="2025-10-06",
                       sectionReference={"codeMef": PREMIERE, "anneeScolaireId": 29})
        report = await run(db, fake)
    assert counts(report) == (1, 1, 1, 1, 0)
    assert (await db.schoolings())["000111224AC"] == (
        ("2NDE PRO AGROEQUIP", SECONDE[:10], "student", date(2025, 9, 1), date(2025, 10, 5), False),
        ("1ERE PRO AGROEQUIP", PREMIERE[:10], "student", date(2025, 10, 6), None, False))


async def test_a_student_who_leaves_is_closed_with_fregatas_date(db: Db) -> None:
    state = FakeFregataState()
    rose = inscription("000111236AQ", "LEGALL", "Rose", "2008-03-03")
    state.add(rose, uai=UAI, school_year=2025)
    with serve(state) as fake:
        await run(db, fake)
        rose.update(dateSortieEtablissement="2025-11-28")
        report = await run(db, fake)
    assert counts(report) == (1, 0, 1, 0, 0)
    assert (await db.schoolings())["000111236AQ"][0][4:] == (date(2025, 11, 28), False)


async def test_an_entry_of_another_year_is_skipped_not_imported_under_ours(db: Db) -> None:
    state = FakeFregataState()
    state.add(inscription("000111224AC", "DIALLO", "Aminata", "2009-09-30"),
              inscription("000111234AN", "KERVRAN", "Maël", "2008-02-11", year=2024), uai=UAI, school_year=2025)
    with serve(state) as fake:
        report = await run(db, fake)
    assert reasons(report.skipped) == {("000111234AN", "annee_scolaire.mismatch")}
    assert counts(report)[0] == 1


async def test_one_ine_with_two_identities_is_refused_and_the_rest_imports(db: Db) -> None:
    state = FakeFregataState()
    state.add(inscription("000111241AV", "ROUX", "Jade", "2008-05-05"),
              inscription("000111241AV", "ROUX", "Jade", "2009-05-05"),  # same INE, another person
              inscription("000111224AC", "DIALLO", "Aminata", "2009-09-30"), uai=UAI, school_year=2025)
    with serve(state) as fake:
        report = await run(db, fake)
    assert reasons(report.skipped) == {("000111241AV", "ine.conflicting_identity")}
    assert counts(report)[0] == 1


async def test_a_dry_run_writes_nothing_and_publishes_nothing(db: Db, fake: FakeFregataServer) -> None:
    report = await run(db, fake, dry_run=True)
    assert counts(report) == (8, 8, 2, 0, 0)  # what a real run would do
    assert (await db.count("students"), await db.count("schoolings"), await db.count("outbox"),
            await db.count("imports WHERE kind = 'students_fregata'")) == (0, 0, 0, 0)


async def test_a_burst_of_401s_and_a_504_still_import_the_school(db: Db, fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(401, times=7), Fault(504, times=1), Fault(None, times=1, delay=0.2))
    report = await run(db, fake)
    assert counts(report) == (8, 8, 2, 0, 0)
    assert (fake.state.requests["401"], fake.state.requests["504"]) == (7, 1)


async def test_fregata_down_or_refusing_writes_nothing(db: Db, fake: FakeFregataServer) -> None:
    fake.state.inject(Fault(504, times=5))
    with pytest.raises(ApiUnavailable):
        await run(db, fake)
    fake.state.faults.clear()
    fake.state.secret = "rotated"  # our secret is no longer FREGATA's
    with pytest.raises(ApiAuthFailed):
        await run(db, fake)
    assert (await db.count("students"), await db.count("outbox")) == (0, 0)


CSV = ("annee_scolaire;ine;nom;prenoms;date_naissance;sexe;commune_naissance_insee;pays_naissance_insee;"
       "adresse_ligne1;adresse_ligne2;code_postal;commune_residence_insee;commune_residence;pays_residence_insee;"
       "classe;code_mef;statut;date_debut;date_fin\n"
       "2025-2026;000111224AC;DIALLO;Aminata;2009-09-30;F;35238;99100;Résidence Les Genêts;4 allée des Chênes;"
       "35000;35238;RENNES;99100;2NDE PRO AGROEQUIP;27621010219;scolaire;2025-09-01;\n"
       "2025-2026;000111234AN;KERVRAN;Maël;2008-02-11;M;35238;99100;4 allée des Chênes;;35000;35238;RENNES;99100;"
       "1ERE PRO AGROEQUIP;27621010229;scolaire;2025-09-01;\n"
       "2025-2026;000111236AQ;LEGALL;Rose;2008-03-03;F;35238;99100;4 allée des Chênes;;35000;35238;RENNES;99100;"
       "2NDE PRO AGROEQUIP;27621010219;scolaire;2025-09-01;2025-11-28\n"
       "2025-2026;000111238AS;TANGUY;Léo;2007-03-09;M;35238;99100;4 allée des Chênes;;35000;35238;RENNES;99100;"
       "2NDE PRO AGROEQUIP;27621010219;apprenti;2025-09-01;\n")


async def test_fregata_and_csv_give_the_same_state_and_the_same_events(db: Db, database_url: str, namespace: str,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    state = FakeFregataState()
    state.add(inscription("000111224AC", "DIALLO", "Aminata", "2009-09-30",
                          addresses=[address(None, "Résidence Les Genêts", "4 allée des Chênes")]),
              inscription("000111235AP", "MENJ", "Hébergé", "2008-05-05", hosted_for_menj=True),
              inscription("000111234AN", "KERVRAN", "Maël", "2008-02-11", sex="1", division="1ERE PRO AGROEQUIP",
                          mef=PREMIERE),
              inscription("000111236AQ", "LEGALL", "Rose", "2008-03-03", end="2025-11-28"),
              inscription("000111238AS", "TANGUY", "Léo", "2007-03-09", sex="1", status="2503"),
              uai=UAI, school_year=2025)
    with serve(state) as fake:
        await run(db, fake)
    # the same data as a CSV file, imported in a schema of its own
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", f"{namespace}csv.")
    other = await open_masa_db(database_url)
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
        assert len(events) == 8
    finally:
        await other.pool.close()
