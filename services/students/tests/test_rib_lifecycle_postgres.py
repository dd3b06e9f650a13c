"""A RIB's life after it is recorded (issue 13): replaced → RibArchived (restricted topic, ids only) and the pair's
RibStatusChanged (students topic), each once; a RIB frozen on a payment request in progress cannot be replaced
(`unarchivable_rib`) until the asp-gateway's events say the request is paid or finally failed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    Envelope,
    PaymentRequestSent,
    PaymentRequestStateChanged,
    RibArchived,
    RibOnFile,
    RibRecorded,
    RibStatusChanged,
    default_registry,
)
from aplypro_contracts.topics import STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_students.adapters.csv_ribs import read_ribs_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.report import InvalidFile
from aplypro_students.entrypoints.cli import app
from aplypro_students.entrypoints.http_api import create_api
from aplypro_students.service_layer import money_facts
from aplypro_students.service_layer.record_ribs import RecordRib, RibSummary, record_ribs
from pydantic import SecretStr
from starlette.testclient import TestClient
from typer.testing import CliRunner

from .conftest import DATA, UAI
from .sample_school import sample_school

pytestmark = pytest.mark.integration
WriteCsv = Callable[..., Path]
RIB_HEADER = "ine;titulaire;type_titulaire;iban;bic"
MEHDI, INES = "000111223AB", "000111226AE"
NEW_RIB = f"{MEHDI};HADDAD Mehdi;eleve;DE89370400440532013000;COBADEFFXXX"
TOKEN = "service-token-for-tests"


@pytest.fixture
async def pool(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Pool]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    async with sample_school(database_url, namespace) as pool:
        yield pool


@pytest.fixture
def api(database_url: str, namespace: str) -> Iterator[TestClient]:
    settings = StudentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, DATABASE_URL=database_url,
                                api_token=SecretStr(TOKEN))
    with TestClient(create_api(settings)) as client:
        yield client


async def record(pool: asyncpg.Pool, entries: list[RecordRib]) -> RibSummary:
    settings = StudentsSettings()
    async with pool.acquire() as conn, conn.transaction():
        return await record_ribs(conn, entries, topic=settings.topic(STUDENTS_RIBS),
                                 events_topic=settings.topic(STUDENTS_EVENTS))


def entries(path: Path) -> list[RecordRib]:
    parsed = read_ribs_csv(path, uai=UAI)
    assert parsed.errors == []
    return parsed.entries


async def mark(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))


async def published(pool: asyncpg.Pool, since: int, topic: str) -> list[tuple[str, Any]]:
    """(key, event) of what went to `topic` after `since`, in order."""
    rows = await pool.fetch("SELECT key, payload FROM outbox WHERE id > $1 AND topic = $2 ORDER BY id", since,
                            StudentsSettings().topic(topic))
    return [(bytes(r["key"]).decode(), default_registry().parse(r["payload"])) for r in rows]


async def rib_of(pool: asyncpg.Pool, ine: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT r.rib_id, r.student_id, r.version FROM ribs r JOIN students USING (student_id) "
                              "WHERE ine = $1 AND r.archived_at IS NULL", ine)
    assert row is not None
    return row


async def test_a_replaced_rib_is_archived_once_with_the_pairs_new_status_and_re_recording_emits_nothing(
        pool: asyncpg.Pool, write_csv: WriteCsv) -> None:
    start = await mark(pool)
    await record(pool, entries(DATA / "ribs.csv"))
    first = [e for _, e in await published(pool, start, STUDENTS_EVENTS) if isinstance(e, RibStatusChanged)]
    assert [(e.has_active_rib, e.owner_type, e.version) for e in first] == [(True, "personal", 1),
                                                                           (True, "moral_person", 1)]
    old = await rib_of(pool, MEHDI)
    before = await mark(pool)

    assert await record(pool, entries(write_csv(RIB_HEADER, NEW_RIB))) == RibSummary(1, 0, 1)
    new = await rib_of(pool, MEHDI)
    student = str(old["student_id"])
    ribs = await published(pool, before, STUDENTS_RIBS)
    assert [type(e) for _, e in ribs] == [RibArchived, RibRecorded]
    assert {key for key, _ in ribs} == {student}
    archived = ribs[0][1]
    assert (archived.rib_id, archived.student_id, archived.establishment_uai, archived.version) == (
        old["rib_id"], old["student_id"], UAI, 1)
    facts = await published(pool, before, STUDENTS_EVENTS)
    assert [type(e) for _, e in facts] == [RibOnFile, RibStatusChanged]
    status = facts[1][1]
    assert (facts[1][0], status.has_active_rib, status.rib_id, status.owner_type, status.version) == (
        student, True, new["rib_id"], "personal", 2)
    for row in await pool.fetch("SELECT payload FROM outbox WHERE id > $1", before):
        body = json.loads(row["payload"])
        if body["event_type"] in ("RibArchived", "RibStatusChanged"):  # ids only: no bank data
            assert not {"iban", "bic", "holder_name"} & body.keys()

    again = await mark(pool)
    assert await record(pool, entries(write_csv(RIB_HEADER, NEW_RIB))) == RibSummary(0, 1, 0)
    assert await mark(pool) == again  # nothing published


async def test_a_pair_named_twice_in_one_batch_archives_the_earlier_row_and_changes_status_once(
        pool: asyncpg.Pool, write_csv: WriteCsv) -> None:
    await record(pool, entries(DATA / "ribs.csv"))
    old = await rib_of(pool, MEHDI)
    before = await mark(pool)
    batch = entries(write_csv(RIB_HEADER, NEW_RIB)) + entries(write_csv(
        RIB_HEADER, f"{MEHDI};HADDAD Mehdi;representant_ou_tiers;FR7630006000011234567890189;AGRIFRPP"))
    assert await record(pool, batch) == RibSummary(2, 0, 2)
    ribs = [e for _, e in await published(pool, before, STUDENTS_RIBS)]
    assert [(e.event_type, e.version) for e in ribs] == [
        ("RibArchived", 1), ("RibRecorded", 2), ("RibArchived", 2), ("RibRecorded", 3)]
    assert ribs[0].rib_id == old["rib_id"]
    assert ribs[2].rib_id == ribs[1].rib_id  # the earlier row of the batch, archived at once
    statuses = [e for _, e in await published(pool, before, STUDENTS_EVENTS) if isinstance(e, RibStatusChanged)]
    assert [(e.rib_id, e.owner_type, e.version) for e in statuses] == [(ribs[3].rib_id, "other_person", 3)]


def sent(rib: asyncpg.Record, request: uuid.UUID, version: int) -> PaymentRequestSent:
    return PaymentRequestSent(producer="asp-gateway", payment_request_id=request, pfmp_id=uuid.uuid4(),
                              student_id=rib["student_id"], amount_cents=30000, version=version,
                              file_name="nps_ficimport_idp_x_20260101000000.xml", rib_id=rib["rib_id"])


def moved(rib: asyncpg.Record, request: uuid.UUID, state: str, version: int) -> PaymentRequestStateChanged:
    return PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=request, pfmp_id=uuid.uuid4(),
                                      student_id=rib["student_id"], state=state, version=version)


def built(rib: asyncpg.Record, request: uuid.UUID, version: int) -> PaymentRequestStateChanged:
    """The gateway's `ready`: the request built into a payment file (not uploaded yet), its RIB frozen in it."""
    return PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=request, pfmp_id=uuid.uuid4(),
                                      student_id=rib["student_id"], state="ready", version=version,
                                      rib_id=rib["rib_id"])


async def apply(pool: asyncpg.Pool, event: Envelope) -> None:
    """As the money-facts consumer does, inside its transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await money_facts.HANDLERS[event.event_type](conn, event)


@pytest.mark.parametrize("end", ["paid", "unpaid", "rejected"])
async def test_a_rib_frozen_on_a_payment_in_progress_is_not_replaced_until_the_request_ends(
        pool: asyncpg.Pool, write_csv: WriteCsv, end: str) -> None:
    await record(pool, entries(DATA / "ribs.csv"))
    old = await rib_of(pool, MEHDI)
    request = uuid.uuid4()
    replacement = entries(write_csv(RIB_HEADER, f"{INES};LEROY Ines;eleve;FR1420041010050500013M02606;PSSTFRPPXXX",
                                    NEW_RIB))
    await apply(pool, sent(old, request, 1))
    for step in (None, moved(old, request, "integrated", 2)):  # sent, then integrated: still in progress
        if step is not None:
            await apply(pool, step)
        before = (await mark(pool), await pool.fetch("SELECT * FROM ribs ORDER BY rib_id"))
        with pytest.raises(InvalidFile) as refused:
            await record(pool, replacement)
        assert [(e.line, e.column, e.code) for e in refused.value.errors] == [(3, "iban", "unarchivable_rib")]
        assert (await mark(pool), await pool.fetch("SELECT * FROM ribs ORDER BY rib_id")) == before

    await apply(pool, moved(old, request, end, 3))
    await apply(pool, sent(old, request, 1))  # a stale copy of the Sent (another event id) does not freeze it again
    assert await record(pool, replacement) == RibSummary(recorded=2, unchanged=0, archived=2)
    assert (await rib_of(pool, MEHDI))["rib_id"] != old["rib_id"]


async def test_the_file_command_and_the_web_api_report_the_refused_line_and_record_nothing(
        pool: asyncpg.Pool, write_csv: WriteCsv, cli: CliRunner, api: TestClient) -> None:
    await record(pool, entries(DATA / "ribs.csv"))
    old = await rib_of(pool, MEHDI)
    await apply(pool, sent(old, uuid.uuid4(), 1))
    before = (await mark(pool), await pool.fetch("SELECT * FROM ribs ORDER BY rib_id"))

    path = write_csv(RIB_HEADER, NEW_RIB)
    result = await asyncio.to_thread(cli.invoke, app, ["import-ribs", str(path), "--uai", UAI])
    assert result.exit_code == 2
    assert "line 2, column iban: unarchivable_rib" in result.stderr
    assert "DE89" not in result.output

    answer = api.post(f"/internal/v1/etablissements/{UAI}/ribs", headers={"Authorization": f"Bearer {TOKEN}"},
                      json={"recorded_by": "directrice", "ribs": [
                          {"student_id": str(old["student_id"]), "owner_type": "personal",
                           "holder_name": "HADDAD Mehdi", "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"}]})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"line": 1, "column": "iban", "code": "unarchivable_rib"}]
    assert (await mark(pool), await pool.fetch("SELECT * FROM ribs ORDER BY rib_id")) == before


@pytest.mark.parametrize("end", ["paid", "rejected"])
async def test_a_rib_built_into_a_payment_file_is_not_replaced_before_the_upload_and_is_freed_when_the_request_ends(
        pool: asyncpg.Pool, write_csv: WriteCsv, end: str) -> None:
    """The window between the file's build and its upload (imports.md §8): the file goes out with the RIB it
    froze, so a replacement is refused from the build's `ready` on, and accepted again once the request ends."""
    await record(pool, entries(DATA / "ribs.csv"))
    old = await rib_of(pool, MEHDI)
    request = uuid.uuid4()
    await apply(pool, built(old, request, 1))  # built, not uploaded: no PaymentRequestSent yet
    before = (await mark(pool), await pool.fetch("SELECT * FROM ribs ORDER BY rib_id"))
    with pytest.raises(InvalidFile) as refused:
        await record(pool, entries(write_csv(RIB_HEADER, NEW_RIB)))
    assert [(e.line, e.column, e.code) for e in refused.value.errors] == [(2, "iban", "unarchivable_rib")]
    assert (await mark(pool), await pool.fetch("SELECT * FROM ribs ORDER BY rib_id")) == before

    await apply(pool, moved(old, request, end, 3))  # the upload's Sent (v2) overtaken: the end is what counts
    await apply(pool, built(old, request, 1))  # a stale copy of the build's `ready` does not freeze it again
    await apply(pool, sent(old, request, 2))  # nor the late Sent
    assert await record(pool, entries(write_csv(RIB_HEADER, NEW_RIB))) == RibSummary(recorded=1, unchanged=0,
                                                                                     archived=1)
    assert (await rib_of(pool, MEHDI))["rib_id"] != old["rib_id"]
