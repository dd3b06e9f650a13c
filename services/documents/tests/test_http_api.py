"""The documents' HTTP API on the real database and real rendered PDFs: service token, a DA number finds
its schooling's documents, a PDF by id with its human name (documents.md §7), a class's zip and merged PDF
built in the background with progress, and the establishment's zip name."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import asyncpg
import pypdf
import pytest
from aplypro_contracts import StudentRegistered
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.entrypoints.http_api import create_api
from aplypro_documents.service_layer.render import IssueThenRender
from aplypro_local.embedded import free_port
from aplypro_local.testing import sample_value, scrape
from fastapi.routing import APIRoute
from pydantic import SecretStr
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from .conftest import (
    Enrol,
    Feed,
    identity_of,
    payment,
    pfmp_validated,
    priced,
    rib,
    schooling_opened,
    settings_for,
)

pytestmark = pytest.mark.integration
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(pool: asyncpg.Pool, namespace: str, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = settings_for(namespace, database_url=database_url, api_token=SecretStr(TOKEN),
                            batch_dir=tmp_path / "batches")
    app = create_api(settings, storage=LocalStorage(tmp_path / "documents"), today=lambda: date(2026, 3, 2))
    with TestClient(app) as client:
        yield client


@pytest.fixture
async def issued(enrol: Enrol, feed: Feed, issuer: IssueThenRender) -> dict[str, Any]:
    """Three DAs in two classes, and one état liquidatif, rendered for real."""
    durand = await enrol("Durand", "Hugo", "TLE PRO MODE")
    eluard = await enrol("Éluard", "Anaïs", "TLE PRO MODE")
    martin = await enrol("Martin", "Léa", "CAP CUISINE")
    paid_student, paid_schooling, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=paid_student, identity=identity_of("Garnier", "Noah")),
               schooling_opened(paid_student, paid_schooling, start=date(2025, 9, 1)),
               priced(paid_student, paid_schooling), rib(paid_student),
               pfmp_validated(paid_student, paid_schooling, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
               payment(paid_student, paid_schooling, pfmp_id, 1, 15000))
    while await issuer.issue_batch():
        pass
    return {"durand": durand, "eluard": eluard, "martin": martin, "paid": paid_schooling}


def test_every_route_needs_the_service_token(api: TestClient) -> None:
    for path in ("/v1/documents?number=ENPU0000000000020251", f"/v1/documents/{uuid.uuid4()}",
                 f"/v1/schoolings/{uuid.uuid4()}/documents", f"/v1/batches/{uuid.uuid4()}"):
        assert api.get(path).status_code == 401
        assert api.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.post("/v1/batches", json={"uai": "0690001A", "school_year": 2025}).status_code == 401


def unfolded(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, included routers unfolded (FastAPI keeps each as one entry)."""
    for route in routes:
        yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from unfolded(inner.routes)


def test_only_the_health_probe_answers_without_the_token(api: TestClient) -> None:
    """The kubelet probes /health without credentials (deploy/k8s): it answers, and every other route of the
    app, walked from its routing table so that a new one is covered, still refuses a call without the token."""
    health = api.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    other = uuid.uuid4()
    routes = [r for r in unfolded(api.app.routes) if isinstance(r, APIRoute)]  # type: ignore[attr-defined]
    assert {r.path for r in routes} > {"/health", "/v1/documents", "/v1/batches"}
    for route in routes:
        if route.path == "/health":
            continue
        path = route.path.format(document_id=other, schooling_id=other, batch_id=other)
        for method in (route.methods or set()) - {"HEAD"}:
            assert api.request(method, path).status_code == 401, f"{method} {route.path}"


def test_the_api_never_starts_without_a_token(namespace: str) -> None:
    with pytest.raises(RuntimeError, match="APLYPRO_DOCUMENTS_API_TOKEN"):
        create_api(settings_for(namespace))


async def test_a_da_number_finds_its_schooling_and_each_pdf_downloads_under_its_human_name(
        api: TestClient, issued: dict[str, Any]) -> None:
    listed = api.get(f"/v1/schoolings/{issued['paid']}/documents", headers=AUTH).json()
    assert [d["kind"] for d in listed] == ["attribution", "liquidation"]
    da, liquidation = listed
    # The DA number (any version) finds every document of the schooling
    found = api.get("/v1/documents", params={"number": da["number"].lower()}, headers=AUTH).json()
    assert {d["document_id"] for d in found} == {da["document_id"], liquidation["document_id"]}
    assert api.get("/v1/documents", params={"number": "ENPU0000000000020259"}, headers=AUTH).json() == []
    # The PDF itself, named as documents.md §7 says
    pdf = api.get(f"/v1/documents/{da['document_id']}", headers=AUTH)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert "GARNIER Noah" in " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert unquote(pdf.headers["content-disposition"].split("UTF-8''")[1]) == \
        f"GARNIER_Noah_décision-d-attribution_{da['number']}.pdf"
    assert pdf.headers["x-schooling-id"] == str(issued["paid"])
    # The état liquidatif: the school's name, and the ASP's (by PFMP number: DA number + rank 01)
    school = api.get(f"/v1/documents/{liquidation['document_id']}", headers=AUTH)
    asp = api.get(f"/v1/documents/{liquidation['document_id']}", params={"audience": "asp"}, headers=AUTH)
    assert school.content == asp.content
    assert asp.content.startswith(b"%PDF-")
    assert f"GARNIER_Noah_%C3%A9tat-liquidatif_{da['number']}.pdf" in school.headers["content-disposition"]
    assert f'filename="etat_liquidatif_{da["number"]}01.pdf"' in asp.headers["content-disposition"]
    assert api.get(f"/v1/documents/{uuid.uuid4()}", headers=AUTH).status_code == 404


async def test_bytes_that_differ_from_the_issued_ones_are_never_served(
        api: TestClient, issued: dict[str, Any], pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT document_id, storage_ref FROM documents WHERE schooling_id = $1", issued["martin"][1])
    assert row is not None
    document_id, ref = row["document_id"], row["storage_ref"]
    Path(ref).write_bytes(Path(ref).read_bytes() + b"tampered")
    assert api.get(f"/v1/documents/{document_id}", headers=AUTH).status_code == 500


def wait_done(api: TestClient, batch_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.get(f"/v1/batches/{batch_id}", headers=AUTH).json()
        if job["state"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError("the batch did not finish")


async def test_a_class_batch_reports_progress_then_serves_its_zip_and_merged_pdf(
        api: TestClient, issued: dict[str, Any]) -> None:
    started = api.post("/v1/batches", json={"uai": "0690001A", "school_year": 2025, "class_label": "TLE PRO MODE"},
                       headers=AUTH)
    assert started.status_code == 202
    batch_id = started.json()["batch_id"]
    job = wait_done(api, batch_id)
    assert (job["state"], job["done"], job["total"]) == ("done", 3, 3)  # Durand, Éluard, Garnier
    assert job["zip_name"] == "0690001A_TLE-PRO-MODE_décisions_d_attribution_2026-03-02.zip"
    archive = api.get(f"/v1/batches/{batch_id}/zip", headers=AUTH)
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert len(zipped.namelist()) == 3
        assert all(zipped.read(name).startswith(b"%PDF-") for name in zipped.namelist())
    merged = api.get(f"/v1/batches/{batch_id}/pdf", headers=AUTH)
    assert merged.content.startswith(b"%PDF-")
    assert len(pypdf.PdfReader(io.BytesIO(merged.content)).pages) == job["pages"] >= 3


async def test_a_document_issued_and_not_rendered_is_answered_clearly_and_a_batch_waits_for_it(
        api: TestClient, enrol: Enrol, issuer: IssueThenRender, pool: asyncpg.Pool) -> None:
    """Issue, then render: between the two, the PDF is refused with 409 document_not_rendered (never a crash or
    a broken file), the lists leave the document out, and a class batch waits for it, then serves it."""
    _, schooling_id = await enrol("Durand", "Hugo", "TLE PRO MODE")
    assert await issuer.issuer.issue_batch() == 1  # issued only
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT document_id, number FROM documents")
    assert row is not None
    document_id, number = row["document_id"], row["number"]
    answer = api.get(f"/v1/documents/{document_id}", headers=AUTH)
    assert answer.status_code == 409
    assert answer.json() == {"detail": "document_not_rendered"}
    assert api.get(f"/v1/schoolings/{schooling_id}/documents", headers=AUTH).json() == []
    assert api.get("/v1/documents", params={"number": number}, headers=AUTH).json() == []
    batch_id = api.post("/v1/batches", json={"uai": "0690001A", "school_year": 2025, "class_label": "TLE PRO MODE"},
                        headers=AUTH).json()["batch_id"]
    deadline = time.monotonic() + 30
    while (job := api.get(f"/v1/batches/{batch_id}", headers=AUTH).json())["waiting"] != 1:
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["state"] == "running"
    assert await issuer.renderer.render_batch() == 1
    assert (wait_done(api, batch_id)["state"], api.get(f"/v1/documents/{document_id}", headers=AUTH).status_code) == (
        "done", 200)
    assert [d["number"] for d in api.get(f"/v1/schoolings/{schooling_id}/documents", headers=AUTH).json()] == [number]


async def test_the_establishment_zip_is_named_by_uai_and_date_and_files_by_year_and_class(
        api: TestClient, issued: dict[str, Any]) -> None:
    started = api.post("/v1/batches", json={"uai": "0690001A", "school_year": 2025}, headers=AUTH).json()
    job = wait_done(api, started["batch_id"])
    assert job["state"] == "done"
    assert job["total"] == 4
    archive = api.get(f"/v1/batches/{started['batch_id']}/zip", headers=AUTH)
    assert "filename*=UTF-8''0690001A_d%C3%A9cisions_d_attribution_2026-03-02.zip" in \
        archive.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert sorted({name.rsplit("/", 1)[0] for name in zipped.namelist()}) == [
            "2025/CAP CUISINE", "2025/TLE PRO MODE"]
    # Nothing issued for that year: the job fails with a code the page explains
    empty = api.post("/v1/batches", json={"uai": "0690001A", "school_year": 2019}, headers=AUTH).json()
    assert wait_done(api, empty["batch_id"])["error_code"] == "empty_batch"
    assert api.get(f"/v1/batches/{empty['batch_id']}/zip", headers=AUTH).status_code == 409


async def test_the_ops_port_counts_requests_by_route_template_and_batches_by_outcome(
        pool: asyncpg.Pool, namespace: str, database_url: str, tmp_path: Path, issued: dict[str, Any]) -> None:
    """What deploy/k8s/documents-api.yaml scrapes, on a port of its own: the route's template (never the path
    with its ids), batches started and finished with their zip's size; the API's own port has no /metrics."""
    port = free_port()
    settings = settings_for(namespace, database_url=database_url, api_token=SecretStr(TOKEN),
                            batch_dir=tmp_path / "batches", api_ops_port=port)
    app = create_api(settings, storage=LocalStorage(tmp_path / "documents"), today=lambda: date(2026, 3, 2))
    with TestClient(app) as api:
        before = scrape(port)
        schooling = issued["paid"]
        (da, _) = api.get(f"/v1/schoolings/{schooling}/documents", headers=AUTH).json()
        assert api.get(f"/v1/documents/{da['document_id']}", headers=AUTH).status_code == 200
        done = api.post("/v1/batches", json={"uai": "0690001A", "school_year": 2025}, headers=AUTH).json()
        empty = api.post("/v1/batches", json={"uai": "0690001A", "school_year": 2019}, headers=AUTH).json()
        assert wait_done(api, done["batch_id"])["state"] == "done"
        assert wait_done(api, empty["batch_id"])["error_code"] == "empty_batch"
        zip_size = len(api.get(f"/v1/batches/{done['batch_id']}/zip", headers=AUTH).content)
        assert api.get("/metrics").status_code == 404
        after = scrape(port)

    def grew(name: str, **labels: str) -> float:
        return sample_value(after, name, **labels) - sample_value(before, name, **labels)

    requests = "aplypro_http_requests_total"
    assert grew(requests, app="documents-api", route="/v1/schoolings/{schooling_id}/documents", status="2xx") == 1
    assert grew(requests, app="documents-api", route="/v1/documents/{document_id}", status="2xx") == 1
    assert grew(requests, app="documents-api", route="/v1/batches", method="POST", status="2xx") == 2
    assert grew(requests, app="documents-api", route="/v1/batches/{batch_id}/zip", status="2xx") == 1
    assert not [s for s in after if any(str(schooling) in v or da["document_id"] in v or done["batch_id"] in v
                                        for v in s.labels.values())]
    assert grew("aplypro_documents_batches_started_total") == 2
    assert grew("aplypro_documents_batches_finished_total", state="done", error_code="none") == 1
    assert grew("aplypro_documents_batches_finished_total", state="failed", error_code="empty_batch") == 1
    assert grew("aplypro_documents_batch_zip_bytes_count") == 1
    assert grew("aplypro_documents_batch_zip_bytes_sum") == zip_size
