"""An HTTP process's requests on its ops port (http_metrics.py, http_ops.py): counted by the route's template,
never the raw path; unmatched paths, odd methods and failures bounded; the process collectors served too; and
nothing on the application's own port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from aplypro_local.embedded import free_port
from aplypro_local.testing import sample_value, scrape
from aplypro_servicekit.http_metrics import UNMATCHED, HttpMetrics
from aplypro_servicekit.http_ops import ops_port
from aplypro_servicekit.ops_server import Probe
from fastapi import FastAPI
from starlette.testclient import TestClient

APP = f"probe-{uuid.uuid4().hex[:6]}"  # the registry is the process's: this test's own app label


async def always_ready() -> Probe:
    return Probe(True, {})


@pytest.fixture
def served() -> Iterator[tuple[TestClient, int]]:
    port = free_port()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ops_port("127.0.0.1", port, always_ready):
            yield

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(HttpMetrics, name=APP)

    @app.get("/etablissements/{uai}/eleves/{student_id}")
    async def student(uai: str, student_id: uuid.UUID) -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, port


def test_requests_are_counted_by_route_template_method_and_status_class(served: tuple[TestClient, int]) -> None:
    client, port = served
    student_id = uuid.uuid4()
    assert client.get(f"/etablissements/0690001A/eleves/{student_id}").status_code == 200
    assert client.get("/etablissements/0690001A/eleves/not-an-id").status_code == 422
    assert client.get(f"/nothing/{student_id}").status_code == 404
    assert client.get("/boom").status_code == 500
    assert client.request("BREW", "/boom").status_code == 405
    samples = scrape(port)
    template = "/etablissements/{uai}/eleves/{student_id}"
    total = "aplypro_http_requests_total"
    assert sample_value(samples, total, app=APP, route=template, method="GET", status="2xx") == 1
    assert sample_value(samples, total, app=APP, route=template, method="GET", status="4xx") == 1
    assert sample_value(samples, total, app=APP, route=UNMATCHED, method="GET", status="4xx") == 1
    assert sample_value(samples, total, app=APP, route="/boom", method="GET", status="5xx") == 1
    assert sample_value(samples, total, app=APP, route="/boom", method="OTHER", status="4xx") == 1
    assert sample_value(samples, "aplypro_http_request_seconds_count", app=APP, route=template, method="GET") == 2
    # Never a raw path: neither the id nor the UAI appears in any label.
    labels = {value for s in samples for value in s.labels.values()}
    assert not {v for v in labels if str(student_id) in v or "0690001A" in v or "not-an-id" in v}
    # prometheus-client's default collectors: the process's CPU, memory, GC.
    names = {s.name for s in samples}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_gc_collections_total"} <= names


def test_the_application_port_does_not_serve_the_metrics(served: tuple[TestClient, int]) -> None:
    client, _ = served
    assert client.get("/metrics").status_code == 404
