"""Recording RIBs on the real PostgreSQL: one active per student and school, RibRecorded on the ribs topic."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import RibOnFile, RibRecorded, RibStatusChanged, default_registry
from aplypro_contracts.topics import STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_students.adapters.csv_ribs import read_ribs_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.report import InvalidFile
from aplypro_students.service_layer.record_ribs import RibSummary, record_ribs

from .conftest import DATA, UAI
from .sample_school import sample_school

pytestmark = pytest.mark.integration
WriteCsv = Callable[..., Path]
RIB_HEADER = "ine;titulaire;type_titulaire;iban;bic"


@pytest.fixture
async def pool(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Pool]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    async with sample_school(database_url, namespace) as pool:
        yield pool


async def record(pool: asyncpg.Pool, path: Path, uai: str | None = None) -> RibSummary:
    parsed = read_ribs_csv(path, uai=uai)
    assert parsed.errors == []
    settings = StudentsSettings()
    async with pool.acquire() as conn, conn.transaction():
        return await record_ribs(conn, parsed.entries, topic=settings.topic(STUDENTS_RIBS))


async def test_ribs_are_stored_and_emitted_keyed_by_student(pool: asyncpg.Pool) -> None:
    assert await record(pool, DATA / "ribs.csv") == RibSummary(recorded=2, unchanged=0, archived=0)
    rows = await pool.fetch("SELECT topic, key, headers, payload FROM outbox ORDER BY id")
    students = {r["ine"]: r["student_id"] for r in await pool.fetch("SELECT ine, student_id FROM students")}
    assert {r["topic"] for r in rows} == {StudentsSettings().topic(STUDENTS_RIBS)}
    events = [default_registry().parse(r["payload"]) for r in rows]
    assert all(isinstance(e, RibRecorded) for e in events)
    assert [bytes(r["key"]) for r in rows] == [str(students[i]).encode() for i in ("000111223AB", "000111226AE")]
    for row in rows:  # bank data travels in the body of the restricted topic only
        assert "FR76" not in json.dumps(json.loads(row["headers"]))
        assert b"FR76" not in bytes(row["key"])
    assert {e.iban for e in events if isinstance(e, RibRecorded)} == {"FR7630006000011234567890189",
                                                                      "FR1420041010050500013M02606"}


async def test_re_recording_changes_nothing_and_a_new_rib_archives_the_old(pool: asyncpg.Pool,
                                                                           write_csv: WriteCsv) -> None:
    await record(pool, DATA / "ribs.csv")
    assert await record(pool, DATA / "ribs.csv") == RibSummary(recorded=0, unchanged=2, archived=0)
    changed = write_csv(RIB_HEADER, "000111223AB;HADDAD Mehdi;eleve;DE89370400440532013000;COBADEFFXXX")
    assert await record(pool, changed, uai=UAI) == RibSummary(recorded=1, unchanged=0, archived=1)
    active = await pool.fetch("SELECT iban FROM ribs WHERE archived_at IS NULL ORDER BY iban")
    assert [r["iban"] for r in active] == ["DE89370400440532013000", "FR1420041010050500013M02606"]
    assert await pool.fetchval("SELECT count(*) FROM ribs WHERE archived_at IS NOT NULL") == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 4  # the third RibRecorded and the RibArchived
    # The new RIB is the next version of the student's bank details at this establishment.
    events = [default_registry().parse(r["payload"]) for r in await pool.fetch("SELECT payload FROM outbox ORDER BY id")]
    assert [e.version for e in events if isinstance(e, RibRecorded)] == [1, 1, 2]


async def test_a_rib_of_an_unknown_or_unenrolled_student_records_nothing(pool: asyncpg.Pool,
                                                                          write_csv: WriteCsv) -> None:
    path = write_csv(RIB_HEADER + ";uai",
                     "000111223AB;HADDAD Mehdi;eleve;FR7630006000011234567890189;AGRIFRPP;0999001K",
                     "000111299ZZ;X Y;eleve;FR7630006000011234567890189;AGRIFRPP;0999001K",
                     "000111226AE;LEROY Ines;eleve;FR7630006000011234567890189;AGRIFRPP;0999002L")
    with pytest.raises(InvalidFile) as caught:
        await record(pool, path)
    assert [(e.line, e.code) for e in caught.value.errors] == [(3, "ine.unknown"), (4, "ine.not_enrolled")]
    assert await pool.fetchval("SELECT count(*) FROM ribs") == 0


async def test_each_rib_comes_with_a_bank_data_free_rib_on_file_on_the_students_topic(pool: asyncpg.Pool) -> None:
    """For pfmp's validation guard (issue 10): pfmp never reads the restricted RIB topic. RibStatusChanged
    (issue 13) follows each RibOnFile, its predecessor."""
    parsed = read_ribs_csv(DATA / "ribs.csv", uai=None)
    settings = StudentsSettings()
    async with pool.acquire() as conn, conn.transaction():
        await record_ribs(conn, parsed.entries, topic=settings.topic(STUDENTS_RIBS),
                          events_topic=settings.topic(STUDENTS_EVENTS))
    rows = await pool.fetch("SELECT topic, payload FROM outbox WHERE topic = $1 ORDER BY id",
                            settings.topic(STUDENTS_EVENTS))
    facts = [default_registry().parse(r["payload"]) for r in rows]
    assert [type(f) for f in facts] == [RibOnFile, RibStatusChanged, RibOnFile, RibStatusChanged]
    for row in rows:  # no bank data: neither the IBAN nor the holder
        body = json.dumps(json.loads(row["payload"])).lower()
        assert "iban" not in body
        assert "fr76" not in body
        assert "holder" not in body
    ribs = await pool.fetch("SELECT payload FROM outbox WHERE topic = $1", settings.topic(STUDENTS_RIBS))
    recorded = {e.rib_id for e in (default_registry().parse(r["payload"]) for r in ribs) if isinstance(e, RibRecorded)}
    assert {f.rib_id for f in facts if isinstance(f, RibOnFile)} == recorded


async def test_a_file_naming_a_student_twice_keeps_the_last_rib_active_and_both_in_order(
        pool: asyncpg.Pool, write_csv: WriteCsv) -> None:
    await record(pool, DATA / "ribs.csv")
    # A file refuses a student twice (ine.duplicate), but the use case takes any batch (the web form's).
    first = write_csv(RIB_HEADER,
                      "000111223AB;HADDAD Mehdi;eleve;DE89370400440532013000;COBADEFFXXX",
                      "000111226AE;Association Œuvre de l'Enfance;personne_morale;FR1420041010050500013M02606;PSSTFRPPXXX")
    again = write_csv(RIB_HEADER, "000111223AB;HADDAD Mehdi;eleve;FR7630006000011234567890189;AGRIFRPP")
    entries = read_ribs_csv(first, uai=UAI).entries + read_ribs_csv(again, uai=UAI).entries
    async with pool.acquire() as conn, conn.transaction():
        summary = await record_ribs(conn, entries, topic=StudentsSettings().topic(STUDENTS_RIBS))
    # Mehdi's second row is his first RIB again, but after the first row changed it: a new version.
    assert summary == RibSummary(recorded=2, unchanged=1, archived=2)
    mehdi = await pool.fetch("SELECT r.iban, r.version, r.archived_at IS NULL AS active FROM ribs r "
                             "JOIN students USING (student_id) WHERE ine = '000111223AB' ORDER BY r.version")
    assert [(r["iban"], r["version"], r["active"]) for r in mehdi] == [
        ("FR7630006000011234567890189", 1, False), ("DE89370400440532013000", 2, False),
        ("FR7630006000011234567890189", 3, True)]
    events = [default_registry().parse(r["payload"]) for r in await pool.fetch("SELECT payload FROM outbox ORDER BY id")]
    assert [e.version for e in events if isinstance(e, RibRecorded)] == [1, 1, 2, 3]
