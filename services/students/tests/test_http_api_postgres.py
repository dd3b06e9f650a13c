"""The students service's internal HTTP API on the real PostgreSQL: the service token, a wrong IBAN refused by
its code (never echoed), a right one recorded with who entered it, and bulk entry all or nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    RibOnFile,
    RibRecorded,
    RibStatusChanged,
    SchoolingHiddenChanged,
    default_registry,
)
from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.http_api import create_api
from pydantic import SecretStr
from starlette.testclient import TestClient

from .conftest import UAI
from .sample_school import sample_school

pytestmark = pytest.mark.integration
TOKEN = "service-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD_IBAN, WRONG_IBAN = "FR76 3000 6000 0112 3456 7890 189", "FR76 3000 6000 0112 3456 7890 188"


@pytest.fixture
async def students(database_url: str, namespace: str) -> AsyncIterator[dict[str, str]]:
    """The sample establishment's students, imported; their ids by INE."""
    async with sample_school(database_url, namespace) as pool:
        yield {r["ine"]: str(r["student_id"]) for r in await pool.fetch("SELECT ine, student_id FROM students")}


@pytest.fixture
def api(database_url: str, namespace: str) -> Iterator[TestClient]:
    settings = StudentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, DATABASE_URL=database_url,
                                api_token=SecretStr(TOKEN))
    with TestClient(create_api(settings)) as client:
        yield client


async def rows(database_url: str, namespace: str, sql: str) -> list[asyncpg.Record]:
    schema = StudentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("students")
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def rib(student_id: str, iban: str = GOOD_IBAN, **extra: str) -> dict[str, Any]:
    return {"student_id": student_id, "owner_type": "personal", "holder_name": "HADDAD Mehdi", "iban": iban,
            "bic": "AGRIFRPP", **extra}


def test_the_api_refuses_without_the_service_token(students: dict[str, str], api: TestClient) -> None:
    body = {"recorded_by": "u1", "ribs": [rib(students["000111223AB"])]}
    assert api.post(f"/internal/v1/etablissements/{UAI}/ribs", json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert api.post(f"/internal/v1/etablissements/{UAI}/ribs", json=body, headers=wrong).status_code == 401
    assert api.get("/health").json() == {"status": "ok"}


async def test_a_wrong_iban_is_refused_by_its_code_then_a_right_one_is_recorded_with_its_author(
        students: dict[str, str], api: TestClient, database_url: str, namespace: str) -> None:
    student_id = students["000111223AB"]
    url = f"/internal/v1/etablissements/{UAI}/ribs"
    # The wrong check digits: refused by field and code, the value never echoed, nothing written
    refused = api.post(url, json={"recorded_by": "directrice", "ribs": [rib(student_id, WRONG_IBAN)]}, headers=AUTH)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"line": 1, "column": "iban", "code": "iban.checksum"}]
    assert "3000" not in refused.text
    assert await rows(database_url, namespace, "SELECT * FROM ribs") == []
    # The right one: recorded, answered masked, audited, RibRecorded and RibOnFile in the outbox
    ok = api.post(url, json={"recorded_by": "directrice", "ribs": [rib(student_id)]}, headers=AUTH)
    assert ok.status_code == 200, ok.text
    answer = ok.json()
    assert (answer["recorded"], answer["archived"]) == (1, 0)
    assert answer["ribs"][0]["iban_masked"] == "FR76 •••• •••• •••• •••• •••• 189"
    assert answer["ribs"][0]["recorded_by"] == "directrice"
    assert "3000 6000" not in ok.text
    stored = await rows(database_url, namespace, "SELECT iban, recorded_by FROM ribs")
    assert [(r["iban"], r["recorded_by"]) for r in stored] == [("FR7630006000011234567890189", "directrice")]
    events = [default_registry().parse(r["payload"])
              for r in await rows(database_url, namespace, "SELECT payload FROM outbox ORDER BY id")]
    assert {type(e) for e in events} == {RibRecorded, RibOnFile, RibStatusChanged}
    # Read back through the API, as the RIB page shows it
    current = api.get(f"/internal/v1/etablissements/{UAI}/eleves/{student_id}/rib", headers=AUTH)
    assert current.json()["rib_id"] == answer["ribs"][0]["rib_id"]
    # Replacing it archives the old one, and the new one names its author
    replaced = api.post(url, json={"recorded_by": "personnel", "ribs": [
        rib(student_id, "DE89370400440532013000", bic="COBADEFFXXX")]}, headers=AUTH)
    assert (replaced.json()["recorded"], replaced.json()["archived"]) == (1, 1)
    history = await rows(database_url, namespace, "SELECT recorded_by, archived_at IS NULL AS active FROM ribs "
                                                  "ORDER BY version")
    assert [(r["recorded_by"], r["active"]) for r in history] == [("directrice", False), ("personnel", True)]


async def test_bulk_entry_is_all_or_nothing_with_each_refused_line(
        students: dict[str, str], api: TestClient, database_url: str, namespace: str) -> None:
    url = f"/internal/v1/etablissements/{UAI}/ribs"
    first, second = students["000111223AB"], students["000111226AE"]
    bad = [rib(first), rib(second, "FR76 3000", bic="AG"), rib(first)]
    refused = api.post(url, json={"recorded_by": "personnel", "ribs": bad}, headers=AUTH)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"line": 2, "column": "iban", "code": "iban.length"},
                                        {"line": 2, "column": "bic", "code": "bic.format"},
                                        {"line": 3, "column": "student_id", "code": "student.duplicate"}]
    assert await rows(database_url, namespace, "SELECT * FROM ribs") == []
    # A student of no schooling here: refused by the use case's own check, still nothing written
    elsewhere = api.post("/internal/v1/etablissements/0999002L/ribs",
                         json={"recorded_by": "personnel", "ribs": [rib(first)]}, headers=AUTH)
    assert elsewhere.status_code == 422
    assert await rows(database_url, namespace, "SELECT * FROM ribs") == []
    ok = api.post(url, json={"recorded_by": "personnel", "ribs": [rib(first), rib(second)]}, headers=AUTH)
    assert ok.json()["recorded"] == 2


def test_a_malformed_request_is_answered_without_its_input(students: dict[str, str], api: TestClient) -> None:
    body = {"recorded_by": "personnel", "ribs": [rib(students["000111223AB"], owner_type="parent-secret")]}
    refused = api.post(f"/internal/v1/etablissements/{UAI}/ribs", json=body, headers=AUTH)
    assert refused.status_code == 422
    assert "parent-secret" not in refused.text
    assert "FR76" not in refused.text
    assert json.loads(refused.text)["errors"][0]["loc"][-1] == "owner_type"


async def test_a_schooling_is_hidden_then_reintegrated_each_change_an_event_with_its_author(
        students: dict[str, str], api: TestClient, database_url: str, namespace: str) -> None:
    (row,) = await rows(database_url, namespace, "SELECT s.schooling_id FROM schoolings s JOIN students st "
                                                 "USING (student_id) WHERE st.ine = '000111223AB'")
    url = f"/internal/v1/etablissements/{UAI}/scolarites/{row['schooling_id']}/masquage"
    hidden = api.put(url, json={"hidden": True, "recorded_by": "personnel"}, headers=AUTH)
    assert hidden.status_code == 200, hidden.text
    assert (hidden.json()["hidden"], hidden.json()["version"], hidden.json()["changed"]) == (True, 1, True)
    # Hiding what is hidden changes nothing and emits nothing
    again = api.put(url, json={"hidden": True, "recorded_by": "personnel"}, headers=AUTH)
    assert (again.json()["version"], again.json()["changed"]) == (1, False)
    back = api.put(url, json={"hidden": False, "recorded_by": "directrice"}, headers=AUTH)
    assert (back.json()["hidden"], back.json()["version"], back.json()["hidden_at"]) == (False, 2, None)
    events = [default_registry().parse(r["payload"])
              for r in await rows(database_url, namespace, "SELECT payload FROM outbox ORDER BY id")]
    assert [(e.hidden, e.version) for e in events if isinstance(e, SchoolingHiddenChanged)] == [(True, 1), (False, 2)]
    (state,) = await rows(database_url, namespace, "SELECT hidden_at, hidden_by FROM schoolings "
                                                   f"WHERE schooling_id = '{row['schooling_id']}'")
    assert (state["hidden_at"], state["hidden_by"]) == (None, "directrice")
    # Another establishment's URL does not reach it; nor does the API without its token
    other = f"/internal/v1/etablissements/0999002L/scolarites/{row['schooling_id']}/masquage"
    assert api.put(other, json={"hidden": True, "recorded_by": "x"}, headers=AUTH).status_code == 404
    assert api.put(url, json={"hidden": True, "recorded_by": "x"}).status_code == 401
