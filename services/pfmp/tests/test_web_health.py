"""The web process's probes (deploy/k8s/web.yaml): /healthz answers without login or cookie; /readyz says
ready only once pfmp's schema carries every migration, which a web process that does not migrate
(APLYPRO_WEB_MIGRATE=false) leaves to `aplypro-pfmp run`."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.web.app import create_app
from aplypro_pfmp.entrypoints.web.settings import WebSettings
from aplypro_servicekit.db import create_pool, migrate
from starlette.testclient import TestClient

pytestmark = pytest.mark.integration

# Never contacted: the probes need no provider (discovery is read at login only).
ISSUER = "http://127.0.0.1:9"


def client_of(database_url: str, namespace: str, *, migrate_at_start: bool) -> TestClient:
    settings = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace, database_url=database_url)
    app = create_app(settings, WebSettings(oidc_issuer=ISSUER, migrate=migrate_at_start))
    return TestClient(app, base_url="https://testserver")


def test_a_migrating_web_process_is_live_and_ready_without_login_or_cookie(database_url: str) -> None:
    with client_of(database_url, f"t{uuid.uuid4().hex[:10]}.", migrate_at_start=True) as client:
        live, ready = client.get("/healthz"), client.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database": True, "missing_migrations": 0}
    for answer in (live, ready):
        assert "set-cookie" not in answer.headers  # a probe opens no session


async def test_a_web_process_that_does_not_migrate_is_unready_until_the_schema_is_migrated(
        database_url: str) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}."
    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("pfmp")
    with client_of(database_url, namespace, migrate_at_start=False) as client:
        assert client.get("/healthz").status_code == 200
        unready = client.get("/readyz")
        assert unready.status_code == 503
        assert unready.json()["missing_migrations"] > 0
        conn = await asyncpg.connect(database_url)
        try:  # the web touched no table: migrating stays `aplypro-pfmp run`'s job
            assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema) == 0
        finally:
            await conn.close()
        pool = await create_pool(database_url, schema, size=1)  # what `aplypro-pfmp run` does at start
        try:
            await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
        finally:
            await pool.close()
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
