"""The students internal API as an operator sees it: its metrics on the ops port (route templates, never a
path with its ids; RIB lines accepted and refused by code), and its log lines, JSON, without the bank data
the requests carried."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aplypro_local.embedded import free_port
from aplypro_local.testing import sample_value, scrape
from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints import cli
from aplypro_students.entrypoints.http_api import create_api
from pydantic import SecretStr
from starlette.testclient import TestClient

from .conftest import UAI
from .sample_school import sample_school

pytestmark = pytest.mark.integration
TOKEN = "service-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD_IBAN, WRONG_IBAN = "FR76 3000 6000 0112 3456 7890 189", "FR76 3000 6000 0112 3456 7890 188"
HOLDER = "HADDAD Mehdi"
REFUSED = "aplypro_students_api_ribs_refused_total"
ACCEPTED = "aplypro_students_api_ribs_accepted_total"


@pytest.fixture
async def student_id(database_url: str, namespace: str) -> AsyncIterator[str]:
    async with sample_school(database_url, namespace) as pool:
        yield str(await pool.fetchval("SELECT student_id FROM students WHERE ine = '000111223AB'"))


@pytest.fixture
def served(database_url: str, namespace: str) -> Iterator[tuple[TestClient, int]]:
    port = free_port()
    settings = StudentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, DATABASE_URL=database_url,
                                api_token=SecretStr(TOKEN), api_ops_port=port)
    with TestClient(create_api(settings)) as client:
        yield client, port


def ribs(student_id: str, iban: str) -> dict[str, Any]:
    return {"recorded_by": "directrice", "ribs": [{"student_id": student_id, "owner_type": "personal",
                                                   "holder_name": HOLDER, "iban": iban, "bic": "AGRIFRPP"}]}


def test_rib_writes_and_requests_are_counted_without_ids(student_id: str, served: tuple[TestClient, int]) -> None:
    client, port = served
    before = scrape(port)
    url = f"/internal/v1/etablissements/{UAI}/ribs"
    assert client.post(url, json=ribs(student_id, WRONG_IBAN), headers=AUTH).status_code == 422
    assert client.post(url, json=ribs(student_id, GOOD_IBAN), headers=AUTH).status_code == 200
    assert client.get(f"/internal/v1/etablissements/{UAI}/eleves/{student_id}/rib", headers=AUTH).status_code == 200
    after = scrape(port)
    assert sample_value(after, REFUSED, reason="iban.checksum") == sample_value(before, REFUSED,
                                                                                reason="iban.checksum") + 1
    assert sample_value(after, ACCEPTED) == sample_value(before, ACCEPTED) + 1
    total = "aplypro_http_requests_total"
    for route, status, count in (("/internal/v1/etablissements/{uai}/ribs", "4xx", 1),
                                 ("/internal/v1/etablissements/{uai}/ribs", "2xx", 1),
                                 ("/internal/v1/etablissements/{uai}/eleves/{student_id}/rib", "2xx", 1)):
        labels = {"app": "students-api", "route": route, "status": status}
        assert sample_value(after, total, **labels) == sample_value(before, total, **labels) + count, route
    assert not [s for s in after if any(student_id in v or UAI in v for v in s.labels.values())]


def test_the_api_command_logs_json_lines_without_the_bank_data(
        student_id: str, database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`aplypro-students api` as deployed: its settings from the environment; uvicorn.run stands in for a
    request through the application it was given."""
    import uvicorn

    for variable, value in {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
                            "APLYPRO_STUDENTS_API_TOKEN": TOKEN, "APLYPRO_LOG_JSON": "true",
                            "APLYPRO_LOG_LEVEL": "INFO"}.items():
        monkeypatch.setenv(variable, value)
    answers = []

    def serve(app: Any, **_: Any) -> None:
        with TestClient(app) as client:
            answers.append(client.post(f"/internal/v1/etablissements/{UAI}/ribs", json=ribs(student_id, GOOD_IBAN),
                                       headers=AUTH).status_code)

    monkeypatch.setattr(uvicorn, "run", serve)
    capsys.readouterr()
    cli.api_command()
    assert answers == [200]
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    entered = [line for line in lines if line.get("event") == "ribs_entered"]
    assert entered, lines
    assert entered[0]["service"] == "students-api"  # the API's lines apart from the consumer's
    assert entered[0]["level"] == "info"
    text = json.dumps(lines)
    for personal in (GOOD_IBAN, GOOD_IBAN.replace(" ", ""), "3000 6000", HOLDER, "000111223AB"):
        assert personal not in text
