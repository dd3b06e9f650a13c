"""The web process's metrics (deploy/k8s/web.yaml scrapes them): served on the ops port only, never on the
pages' port the Ingress routes to; requests counted by route template, never the path with its ids; logins
by realm and outcome, and the rate-limited ones."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from aplypro_local.embedded import free_port
from aplypro_local.school import UAI
from aplypro_local.testing import sample_value, scrape
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.web.app import create_app
from aplypro_pfmp.entrypoints.web.settings import DEFAULT_REALM, WebSettings
from starlette.testclient import TestClient

from .web_world import login

pytestmark = pytest.mark.integration

LOGINS = "aplypro_web_logins_total"


def web(database_url: str, namespace: str, issuer: str, *, logins_per_minute: int = 10) -> tuple[TestClient, int]:
    port = free_port()
    settings = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace, database_url=database_url)
    app = create_app(settings, WebSettings(oidc_issuer=issuer, ops_port=port,
                                           login_attempts_per_minute=logins_per_minute))
    return TestClient(app, base_url="https://testserver"), port


@pytest.fixture
def served(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[tuple[TestClient, int]]:
    client, port = web(database_url, namespace, oidc_issuer)
    with client:
        yield client, port


def test_requests_are_counted_by_route_template_on_the_ops_port_only(served: tuple[TestClient, int]) -> None:
    client, port = served
    before = scrape(port)
    student_id = uuid.uuid4()
    template = "/etablissements/{uai}/eleves/{student_id}"
    labels = {"app": "web", "route": template, "method": "GET", "status": "3xx"}  # not logged in: to the home page
    assert client.get(f"/etablissements/{UAI}/eleves/{student_id}", follow_redirects=False).status_code == 303
    after = scrape(port)
    assert sample_value(after, "aplypro_http_requests_total", **labels) == \
        sample_value(before, "aplypro_http_requests_total", **labels) + 1
    assert sample_value(after, "aplypro_http_request_seconds_count", app="web", route=template, method="GET") >= 1
    assert not [s for s in after if any(str(student_id) in v or UAI in v for v in s.labels.values())]
    # The ops port answers the probes too (ready: pfmp's migrations, as /readyz); the pages' port (the
    # Ingress's) has no /metrics.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as ready:
        assert json.loads(ready.read()) == {"ready": True, "database": True, "missing_migrations": 0}
    assert client.get("/metrics").status_code == 404
    assert sample_value(scrape(port), "aplypro_http_requests_total", app="web", route="<unmatched>") >= 1


def test_logins_are_counted_by_realm_and_outcome(served: tuple[TestClient, int]) -> None:
    client, port = served
    before = scrape(port)
    assert login(client, "directrice").status_code == 200
    assert login(client, "sans-role").status_code == 403
    # A callback the provider did not send (no state in the session): the login fails.
    assert client.get("/auth/callback?code=forged&state=forged").status_code == 400
    after = scrape(port)
    for outcome in ("ok", "no_role", "error"):
        assert sample_value(after, LOGINS, realm=DEFAULT_REALM, outcome=outcome) == \
            sample_value(before, LOGINS, realm=DEFAULT_REALM, outcome=outcome) + 1, outcome


def test_rate_limited_logins_are_counted(pool: asyncpg.Pool, database_url: str, namespace: str,
                                        oidc_issuer: str) -> None:
    client, port = web(database_url, namespace, oidc_issuer, logins_per_minute=1)
    with client:
        before = sample_value(scrape(port), "aplypro_web_logins_rate_limited_total")
        codes = [client.get("/connexion", follow_redirects=False).status_code for _ in range(3)]
        after = sample_value(scrape(port), "aplypro_web_logins_rate_limited_total")
    assert codes == [302, 429, 429]
    assert after == before + 2
