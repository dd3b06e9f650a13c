"""Downloads and the ASP's dossier search through the web application, against the documents service's
HTTP API as a real process (`aplypro-documents api`), real rendered PDFs, the real OIDC provider and the
real database: each service reads only its own schema; the web application reaches the PDFs over HTTP."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import asyncpg
import httpx2
import pypdf
import pytest
from aplypro_contracts import (
    Address,
    Establishment,
    Identity,
    Mef,
    PaymentRequested,
    PfmpState,
    PfmpValidated,
    RibRecorded,
    SchoolingOpened,
    SchoolingPriced,
    StudentRegistered,
)
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.service_layer.projection import Projection as DocumentsProjection
from aplypro_documents.service_layer.render import IssueThenRender
from aplypro_local.oidc import OidcProvider, free_port
from aplypro_local.school import UAI
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.web.app import create_app
from aplypro_pfmp.entrypoints.web.settings import WebSettings
from aplypro_pfmp.service_layer import projection as pfmp_projection
from aplypro_servicekit.db import create_pool, migrate
from pydantic import SecretStr
from starlette.testclient import TestClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOKEN = "web-documents-test-token"
SCHOOL = Establishment(uai=UAI, name="Lycée professionnel de démonstration", address_lines=("1 rue de l'École",),
                       postal_code="14000", city_name="Caen", head_name="Claire Martin", academy_code="14")
MEF = Mef(code="2473121332", dispositif="247", diploma="40025510", duration=3, year=3,
          label="BAC PRO MÉTIERS DE LA MODE - VÊTEMENT (TERMINALE)", ministry="MENJ")
VERSIONS = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def oidc_issuer() -> Iterator[str]:
    provider = OidcProvider.start()
    try:
        yield provider.issuer
    finally:
        provider.stop()


@pytest.fixture
async def pools(database_url: str, namespace: str) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    pools = {}
    for service, packages in (("documents", ["aplypro_servicekit", "aplypro_documents"]),
                              ("pfmp", ["aplypro_servicekit", "aplypro_pfmp"])):
        schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema(service)
        pools[service] = await create_pool(database_url, schema)
        await migrate(pools[service], schema, packages)
    yield pools
    for pool in pools.values():
        await pool.close()


async def enrol(pools: dict[str, asyncpg.Pool], last_name: str, first_name: str, class_label: str,
                paid: bool = False) -> dict[str, Any]:
    """The students service's events, handed to documents' and pfmp's projections (each its own schema);
    `paid`: a validated PFMP, its payment request and a RIB, so documents issues an état liquidatif."""
    student_id, schooling_id, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    identity = Identity(ine=f"{uuid.uuid4().int % 10**9:09d}AB", last_name=last_name, first_names=(first_name,),
                        birth_date=date(2008, 3, 14),
                        address=Address(lines=("2 rue du Port",), postal_code="14000", city_name="Caen"))
    registered = StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity)
    opened = SchoolingOpened(producer="students", schooling_id=schooling_id, student_id=student_id,
                             establishment=SCHOOL, class_label=class_label, school_year=2025, mef=MEF,
                             start_date=date(2025, 9, 1), version=next(VERSIONS))
    documents = DocumentsProjection(clock=lambda: date(2026, 3, 2))
    events: list[tuple[Any, Any]] = [
        (documents.on_student_registered, registered), (documents.on_schooling_opened, opened),
        (documents.on_schooling_priced, SchoolingPriced(
            producer="calculator", schooling_id=schooling_id, student_id=student_id, school_year=2025, priced=True,
            daily_rate_cents=1500, yearly_cap_cents=60000))]
    if paid:
        events += [
            (documents.on_rib_recorded, RibRecorded(
                producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
                owner_type="other_person", holder_name="Famille Fictive", iban="FR7630006000011234567890189",
                bic="AGRIFRPPXXX", version=next(VERSIONS))),
            (documents.on_pfmp_validated, PfmpValidated(
                producer="pfmp", occurred_at=datetime(2025, 10, 18, 9, tzinfo=UTC), pfmp=PfmpState(
                    pfmp_id=pfmp_id, schooling_id=schooling_id, student_id=student_id, start_date=date(2025, 10, 6),
                    end_date=date(2025, 10, 17), day_count=10, status="validated", created_seq=1, rank=1,
                    version=2))),
            (documents.on_payment_requested, PaymentRequested(
                producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=pfmp_id, schooling_id=schooling_id,
                student_id=student_id, amount_cents=15000, day_count=10, pfmp_rank=1, version=1))]
    for handler, event in events:
        async with pools["documents"].acquire() as conn, conn.transaction():
            await handler(conn, event)
    async with pools["pfmp"].acquire() as conn, conn.transaction():
        await pfmp_projection.on_student_registered(conn, registered)
        await pfmp_projection.on_schooling_opened(conn, opened)
    return {"student_id": student_id, "schooling_id": schooling_id}


@pytest.fixture
async def school(pools: dict[str, asyncpg.Pool], namespace: str, tmp_path: Path) -> dict[str, Any]:
    """Three students of the demo school in two classes, their DAs and one état liquidatif rendered."""
    students = {"durand": await enrol(pools, "Durand", "Hugo", "TLE PRO"),
                "eluard": await enrol(pools, "Éluard", "Anaïs", "TLE PRO", paid=True),
                "martin": await enrol(pools, "Martin", "Léa", "CAP CUISINE")}
    settings = DocumentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace)
    issuer = IssueThenRender(pool=pools["documents"], storage=LocalStorage(tmp_path / "documents"), executor=None,
                            topic=settings.topic(DOCUMENTS_EVENTS), batch_size=50, attempts=3,
                            programmes=settings.programmes, clock=lambda: date(2026, 3, 2))
    while await issuer.issue_batch():
        pass
    async with pools["documents"].acquire() as conn:
        for student in students.values():
            student["documents"] = {r["kind"]: (r["document_id"], r["number"]) for r in await conn.fetch(
                "SELECT kind, document_id, number FROM documents WHERE schooling_id = $1", student["schooling_id"])}
    return students


@pytest.fixture
def documents_api(database_url: str, namespace: str, tmp_path: Path) -> Iterator[str]:
    """`aplypro-documents api` as its own process on a free port."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace,
           "APLYPRO_DOCUMENTS_API_TOKEN": TOKEN, "APLYPRO_DOCUMENTS_API_PORT": str(port),
           "APLYPRO_DOCUMENTS_STORAGE_DIR": str(tmp_path / "documents"),
           "APLYPRO_DOCUMENTS_BATCH_DIR": str(tmp_path / "batches")}
    command = [sys.executable, "-c", "import sys; from aplypro_documents.entrypoints.cli import main; "
               "sys.argv[0] = 'aplypro-documents'; main()", "api"]
    log_path = tmp_path / "documents-api.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/v1/batches/{uuid.uuid4()}", timeout=1)  # noqa: S310
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # up, and asking for the token
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the documents API did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(20)


def web(database_url: str, namespace: str, issuer: str, documents_url: str) -> TestClient:
    settings = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace, database_url=database_url)
    app = create_app(settings, WebSettings(oidc_issuer=issuer, documents_url=documents_url,
                                           documents_token=SecretStr(TOKEN)))
    return TestClient(app, base_url="https://testserver")


@pytest.fixture
def client(database_url: str, namespace: str, oidc_issuer: str, documents_api: str,
           pools: dict[str, asyncpg.Pool]) -> Iterator[TestClient]:
    with web(database_url, namespace, oidc_issuer, documents_api) as client:
        yield client


def login(client: TestClient, sub: str) -> Any:
    """The code flow through the provider's consent page (a click on the account), as in pfmp's web tests."""
    to_provider = client.get("/connexion", follow_redirects=False)
    with httpx2.Client() as browser:
        consent = browser.post(to_provider.headers["location"], data={"sub": sub}, follow_redirects=False)
    return client.get(consent.headers["location"].removeprefix("https://testserver"))


def csrf_of(page: Any) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def file_name(response: Any) -> str:
    return unquote(response.headers["content-disposition"].split("UTF-8''")[1])


def wait_for(client: TestClient, url: str) -> Any:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        page = client.get(url)
        if 'data-state="running"' not in page.text:
            return page
        assert re.search(r"Préparation : \d+ / (\d+|…) décisions", page.text)
        time.sleep(0.2)
    raise AssertionError("the download was not ready in time")


async def test_staff_download_a_student_s_documents_and_a_class_s_zip_and_merged_pdf(
        client: TestClient, school: dict[str, Any]) -> None:
    eluard = school["eluard"]
    login(client, "directrice")
    # The student's documents: the DA and the état liquidatif, each a PDF under its §7 name
    listed = client.get(f"/etablissements/{UAI}/eleves/{eluard['student_id']}/documents")
    assert listed.status_code == 200
    assert "Décision d&#39;attribution" in listed.text
    assert "État liquidatif" in listed.text
    da_id, da_number = eluard["documents"]["attribution"]
    pdf = client.get(f"/etablissements/{UAI}/documents/{da_id}")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert file_name(pdf) == f"ÉLUARD_Anaïs_décision-d-attribution_{da_number}.pdf"
    assert "ÉLUARD Anaïs" in " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    # The class's zip and merged PDF: asked for, progress shown, then both files
    token = csrf_of(client.get(f"/etablissements/{UAI}/telechargements"))
    asked = client.post(f"/etablissements/{UAI}/annees/2025/classes/TLE PRO/telechargement",
                        data={"csrf_token": token}, follow_redirects=False)
    assert asked.status_code == 303
    ready = wait_for(client, asked.headers["location"])
    assert "2 décisions prêtes" in ready.text
    zip_url, pdf_url = re.findall(r'href="([^"]+/(?:zip|pdf))"', ready.text)
    archive = client.get(zip_url)
    assert re.fullmatch(rf"{UAI}_TLE-PRO_décisions_d_attribution_\d{{4}}-\d{{2}}-\d{{2}}\.zip", file_name(archive))
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert sorted(zipped.namelist()) == sorted(f"{s['documents']['attribution'][1]}.pdf"
                                                   for s in (school["durand"], eluard))
        assert all(zipped.read(name).startswith(b"%PDF-") for name in zipped.namelist())
    merged = client.get(pdf_url)
    assert merged.content.startswith(b"%PDF-")
    assert len(pypdf.PdfReader(io.BytesIO(merged.content)).pages) >= 2
    # The establishment's zip, named by UAI and date, its entries under year and class
    everything = client.post(f"/etablissements/{UAI}/annees/2025/telechargement", data={"csrf_token": token},
                             follow_redirects=False)
    ready = wait_for(client, everything.headers["location"])
    archive = client.get(re.findall(r'href="([^"]+/zip)"', ready.text)[0])
    assert re.fullmatch(rf"{UAI}_décisions_d_attribution_\d{{4}}-\d{{2}}-\d{{2}}\.zip", file_name(archive))
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert {name.rsplit("/", 1)[0] for name in zipped.namelist()} == {"2025/CAP CUISINE", "2025/TLE PRO"}


async def test_staff_of_another_school_reach_neither_the_documents_nor_the_batches(
        client: TestClient, database_url: str, namespace: str, oidc_issuer: str, documents_api: str,
        school: dict[str, Any]) -> None:
    from aplypro_local.oidc import OTHER_UAI

    login(client, "directrice")
    token = csrf_of(client.get(f"/etablissements/{UAI}/telechargements"))
    asked = client.post(f"/etablissements/{UAI}/annees/2025/classes/TLE PRO/telechargement",
                        data={"csrf_token": token}, follow_redirects=False)
    batch_path = asked.headers["location"].removeprefix("https://testserver")
    da_id, _ = school["durand"]["documents"]["attribution"]
    with web(database_url, namespace, oidc_issuer, documents_api) as other:
        login(other, "autre-ecole")
        assert other.get(f"/etablissements/{UAI}/documents/{da_id}").status_code == 404
        assert other.get(f"/etablissements/{OTHER_UAI}/documents/{da_id}").status_code == 404
        assert other.get(batch_path).status_code == 404
        assert other.get(batch_path.replace(UAI, OTHER_UAI)).status_code == 404
        assert other.get(f"/etablissements/{OTHER_UAI}/eleves/{school['durand']['student_id']}/documents"
                         ).status_code == 404


async def test_an_asp_agent_finds_a_dossier_by_da_number_and_downloads_its_etat_liquidatif(
        client: TestClient, school: dict[str, Any]) -> None:
    eluard = school["eluard"]
    da_id, da_number = eluard["documents"]["attribution"]
    liquidation_id, _ = eluard["documents"]["liquidation"]
    token = csrf_of(login(client, "agent-asp"))
    missing = client.post("/asp/recherche", data={"csrf_token": token, "number": da_number[:-1] + "9"})
    assert "Aucun dossier ne porte ce numéro" in missing.text
    found = client.post("/asp/recherche", data={"csrf_token": token, "number": f" {da_number.lower()} "})
    assert found.status_code == 200
    assert "/asp/dossiers/" in str(found.url)
    assert da_number not in str(found.url)  # internal ids only in URLs
    assert "Éluard Anaïs" in found.text
    assert "État liquidatif" in found.text
    liquidation = client.get(f"/asp/documents/{liquidation_id}")
    assert liquidation.content.startswith(b"%PDF-")
    assert file_name(liquidation) == f"etat_liquidatif_{da_number}01.pdf"  # the PFMP number (§7)
    assert client.get(f"/asp/documents/{da_id}").content.startswith(b"%PDF-")
    # Another dossier's document, never searched: not reachable
    other_da, _ = school["durand"]["documents"]["attribution"]
    assert client.get(f"/asp/documents/{other_da}").status_code == 404
    assert client.get(f"/asp/dossiers/{school['durand']['schooling_id']}").status_code == 404


async def test_a_documents_service_that_does_not_answer_says_what_to_do(
        database_url: str, namespace: str, oidc_issuer: str, school: dict[str, Any]) -> None:
    with web(database_url, namespace, oidc_issuer, f"http://127.0.0.1:{free_port()}") as client:
        login(client, "directrice")
        page = client.get(f"/etablissements/{UAI}/eleves/{school['durand']['student_id']}/documents")
        assert page.status_code == 503
        assert "réessayez dans quelques minutes" in page.text


async def test_the_asp_json_api_finds_a_dossier_by_da_number_and_shows_only_what_this_session_found(
        client: TestClient, school: dict[str, Any], pools: dict[str, asyncpg.Pool], database_url: str,
        namespace: str, oidc_issuer: str, documents_api: str) -> None:
    eluard = school["eluard"]
    _, da_number = eluard["documents"]["attribution"]
    liquidation_id, _ = eluard["documents"]["liquidation"]
    async with pools["pfmp"].acquire() as conn:  # the PFMP as pfmp's tables hold it, priced by the calculator
        pfmp_id = uuid.uuid4()
        await conn.execute("INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, "
                           "status, rank) VALUES ($1, $2, $3, $4, $5, 10, 'validated', 1)", pfmp_id,
                           eluard["schooling_id"], eluard["student_id"], date(2025, 10, 6), date(2025, 10, 17))
        await conn.execute("INSERT INTO pfmp_amounts (pfmp_id, amount_cents, computed_at) VALUES ($1, 15000, now())",
                           pfmp_id)
    found_url, dossier_url = "/api/v1/asp/recherche", f"/api/v1/asp/dossiers/{eluard['schooling_id']}"
    assert client.get(dossier_url).status_code == 401  # no session
    assert client.post(found_url, json={"number": da_number}).status_code == 403  # no session: no CSRF token
    token = csrf_of(login(client, "agent-asp"))
    assert client.post(found_url, json={"number": da_number}).status_code == 403  # no CSRF token
    headers = {"X-CSRF-Token": token}
    assert client.post(found_url, json={"number": "ABC"}, headers=headers).status_code == 422
    assert client.post(found_url, json={"number": da_number[:-1] + "9"}, headers=headers).status_code == 404
    assert client.get(dossier_url).status_code == 404  # not found by this session yet
    found = client.post(found_url, json={"number": f" {da_number.lower()} "}, headers=headers)
    assert found.json() == {"schooling_id": str(eluard["schooling_id"])}
    dossier = client.get(dossier_url).json()
    assert (dossier["last_name"], dossier["uai"], dossier["school_year"]) == ("Éluard", UAI, 2025)
    assert [(p["rank"], p["amount_cents"], p["status_label"]) for p in dossier["pfmps"]] == [(1, 15000, "Validée")]
    assert {d["kind"] for d in dossier["documents"]} == {"attribution", "liquidation"}
    liquidation = next(d for d in dossier["documents"] if d["kind"] == "liquidation")
    assert liquidation["document_id"] == str(liquidation_id)
    assert client.get(liquidation["download_path"]).content.startswith(b"%PDF-")
    assert "150,00" in client.get(f"/asp/dossiers/{eluard['schooling_id']}").text  # the page shows the amount
    # Another dossier, never searched, stays out of reach; staff and academic users reach neither route
    assert client.get(f"/api/v1/asp/dossiers/{school['durand']['schooling_id']}").status_code == 404
    for sub in ("directrice", "academique"):
        with web(database_url, namespace, oidc_issuer, documents_api) as other:
            other_token = csrf_of(login(other, sub))
            answer = other.post(found_url, json={"number": da_number}, headers={"X-CSRF-Token": other_token})
            assert answer.status_code == 403, sub
            assert other.get(dossier_url).status_code == 403, sub


async def test_an_asp_agent_regenerates_a_found_dossier_s_etat_liquidatif_through_documents_rules(
        client: TestClient, school: dict[str, Any], pools: dict[str, asyncpg.Pool], namespace: str,
        tmp_path: Path, database_url: str, oidc_issuer: str, documents_api: str) -> None:
    from aplypro_contracts import LiquidationIssueRequested
    from aplypro_documents.service_layer.asp_commands import on_liquidation_requested
    from aplypro_pfmp.adapters import lifecycle_sql

    eluard, durand = school["eluard"], school["durand"]
    _, da_number = eluard["documents"]["attribution"]
    url = f"/asp/dossiers/{eluard['schooling_id']}/etats-liquidatifs"
    api = f"/api/v1/asp/dossiers/{eluard['schooling_id']}/etats-liquidatifs"
    async with pools["pfmp"].acquire() as conn:  # what pfmp knows: the DA issued, a PFMP with its payment request
        pfmp_id = uuid.uuid4()
        await conn.execute("INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, "
                           "status, rank) VALUES ($1, $2, $3, $4, $5, 10, 'validated', 1)", pfmp_id,
                           eluard["schooling_id"], eluard["student_id"], date(2025, 10, 6), date(2025, 10, 17))
        await lifecycle_sql.calculator_state(conn, uuid.uuid4(), pfmp_id, 1, "pending",
                                             datetime(2025, 10, 18, tzinfo=UTC), created=True,
                                             event_type="PaymentRequested")
        for student in (eluard, durand):
            await lifecycle_sql.record_decision(conn, student["schooling_id"], "attribution", 1)
    token = csrf_of(login(client, "agent-asp"))
    # Not found by this session yet: 404, nothing asked
    assert client.post(url, data={"csrf_token": token}).status_code == 404
    assert client.post(api, headers={"X-CSRF-Token": token}).status_code == 404
    page = client.post("/asp/recherche", data={"csrf_token": token, "number": da_number})
    assert "Régénérer l'état liquidatif" in page.text
    # Without the session's CSRF token: refused
    assert client.post(url, data={"csrf_token": "forged"}).status_code == 403
    assert client.post(api).status_code == 403
    # Asked: the page says so at once, before documents has answered, and the audit names the agent
    asked = client.post(url, data={"csrf_token": token})
    assert asked.url.path == f"/asp/dossiers/{eluard['schooling_id']}"
    assert "La génération de l&#39;état liquidatif est demandée" in asked.text
    assert 'data-testid="liquidation-asked"' in asked.text
    assert client.get(asked.url.path).text.count("La génération de l&#39;état liquidatif est demandée") == 0
    json_asked = client.post(api, headers={"X-CSRF-Token": token})
    assert json_asked.status_code == 202
    assert json_asked.json()["schooling_id"] == str(eluard["schooling_id"])
    async with pools["pfmp"].acquire() as conn:
        assert [tuple(r) for r in await conn.fetch(
            "SELECT user_id, schooling_id FROM pfmp_actions WHERE action = 'request_liquidation'")] == [
            ("agent-asp", eluard["schooling_id"])] * 2
        bodies = [json.loads(p) for r in await conn.fetch("SELECT payloads FROM outbox_batch ORDER BY id")
                  for p in r["payloads"]]
    events = [LiquidationIssueRequested.model_validate(b) for b in bodies
              if b["event_type"] == "LiquidationIssueRequested"]
    assert [(e.schooling_id, e.student_id, e.requested_by) for e in events] == [
        (eluard["schooling_id"], eluard["student_id"], "agent-asp")] * 2
    # Documents carries them out under its own rules: queued once, unchanged, so the état liquidatif keeps v1
    for event in events:
        async with pools["documents"].acquire() as conn, conn.transaction():
            await on_liquidation_requested(conn, event)
    settings = DocumentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace)
    issuer = IssueThenRender(pool=pools["documents"], storage=LocalStorage(tmp_path / "documents"), executor=None,
                            topic=settings.topic(DOCUMENTS_EVENTS), batch_size=50, attempts=3,
                            programmes=settings.programmes, clock=lambda: date(2026, 3, 2))
    assert await issuer.issue_batch() == 1
    async with pools["documents"].acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM render_queue") == 0
        assert [r["version"] for r in await conn.fetch(
            "SELECT version FROM documents WHERE schooling_id = $1 AND kind = 'liquidation'",
            eluard["schooling_id"])] == [1]
    # A dossier with nothing to print: refused with what it means, nothing asked
    client.post("/asp/recherche", data={"csrf_token": token, "number": durand["documents"]["attribution"][1]})
    refused = client.post(f"/asp/dossiers/{durand['schooling_id']}/etats-liquidatifs", data={"csrf_token": token})
    assert "Aucune PFMP de ce dossier n&#39;a encore de demande de paiement" in refused.text
    assert "Générer l'état liquidatif" in refused.text
    no_request = client.post(f"/api/v1/asp/dossiers/{durand['schooling_id']}/etats-liquidatifs",
                             headers={"X-CSRF-Token": token})
    assert (no_request.status_code, no_request.json()["detail"]) == (409, "no_payment_request")
    # Staff and academic users: 403, even with a valid session token
    for sub in ("directrice", "academique"):
        with web(database_url, namespace, oidc_issuer, documents_api) as other:
            other_token = csrf_of(login(other, sub))
            assert other.post(url, data={"csrf_token": other_token}).status_code == 403, sub
            assert other.post(api, headers={"X-CSRF-Token": other_token}).status_code == 403, sub
    async with pools["pfmp"].acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmp_actions") == 2
