"""The establishment's commune INSEE code (directory `code_commune`) goes from the reference file into every
SchoolingOpened: without it asp-gateway blocks students living abroad (missing_establishment_city_insee_code)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import pytest
from aplypro_contracts import SchoolingOpened, default_registry
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_students.adapters.csv_reference import read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.report import InvalidFile
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.reference import load_establishments

from .conftest import DATA, GOOD_ROW, HEADER, UAI
from .test_sygne_import_postgres import Db, open_db

WriteCsv = Callable[..., Path]
COLUMNS = "uai;name;ministry;academy_code;contract_type_code;address_line1;postal_code;city;city_insee"


def test_the_column_is_read_and_optional(write_csv: WriteCsv) -> None:
    (jaures,) = read_establishments_csv(write_csv(
        COLUMNS, "0999001K;Lycée Jean Jaurès;MENJ;14;99;1 rue de l'École;35000;RENNES;35238"))
    assert jaures.city_insee == "35238"
    (corsica,) = read_establishments_csv(write_csv("uai;name;city_insee", "0999004N;Lycée d'Ajaccio;2a004"))
    assert corsica.city_insee == "2A004"
    # files without it (older exports, the shipped sample) still load
    assert [e.city_insee for e in read_establishments_csv(DATA / "establishments.csv")] == [None, None]


def test_a_malformed_code_refuses_the_file_without_echoing_it(write_csv: WriteCsv) -> None:
    with pytest.raises(InvalidFile) as caught:
        read_establishments_csv(write_csv("uai;name;city_insee", "0999001K;A;3523", "0999002L;B;RENNES"))
    assert [(e.line, e.code) for e in caught.value.errors] == [(2, "city_insee.format"), (3, "city_insee.format")]
    assert "RENNES" not in str(caught.value.errors)


@pytest.fixture
async def db(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Db]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    db = await open_db(database_url, StudentsSettings())
    try:
        yield db
    finally:
        await db.pool.close()


@pytest.mark.integration
async def test_schooling_events_carry_the_establishments_commune_code(db: Db, write_csv: WriteCsv) -> None:
    async with db.pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(write_csv(
            COLUMNS, "0999001K;Lycée Jean Jaurès;MENJ;14;99;1 rue de l'École;35000;RENNES;35238")))
        # the older file, without the column, loaded again: the code stays
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
    assert await db.pool.fetchval("SELECT city_insee FROM establishments WHERE uai = $1", UAI) == "35238"
    parsed = read_students_csv(write_csv(HEADER, GOOD_ROW), uai=UAI)
    async with db.pool.acquire() as conn, conn.transaction():
        await import_students(conn, ImportStudents(UAI, parsed.records), today=date(2025, 10, 15),
                              topic=db.settings.topic(STUDENTS_EVENTS))
    rows = await db.rows("SELECT headers, payload FROM outbox ORDER BY id")
    (opened,) = [default_registry().parse(r["payload"]) for r in rows
                 if json.loads(r["headers"])["event-type"] == "SchoolingOpened"]
    assert isinstance(opened, SchoolingOpened)
    assert (opened.establishment.city_insee, opened.establishment.postal_code) == ("35238", "35000")
