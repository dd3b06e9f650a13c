"""Every error page says what to do (issue 14): a page that does not exist, a form's address opened in the
address bar, a form sent incomplete, an unexpected failure. The JSON API keeps answering JSON."""

from __future__ import annotations

import html
from collections.abc import Iterator

import asyncpg
import pytest
from aplypro_local.school import UAI
from fastapi import FastAPI, Request
from starlette.testclient import TestClient

from .test_web_app import make_client
from .web_world import csrf_of, login, seed_student

pytestmark = pytest.mark.integration


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


def lead(page_text: str) -> str:
    """The explanation under the page's title."""
    text = html.unescape(page_text)
    start = text.index('class="fr-text--lead">') + len('class="fr-text--lead">')
    return " ".join(text[start:text.index("</p>", start)].split())


async def test_a_page_that_does_not_exist_says_where_to_go(client: TestClient, pool: asyncpg.Pool) -> None:
    login(client, "directrice")
    missing = client.get(f"/etablissements/{UAI}/eleves/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert "Vérifiez l'adresse" in lead(missing.text)
    assert "accueil" in lead(missing.text)


async def test_a_form_address_opened_in_the_address_bar_says_to_go_back_and_send_the_form(
        client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    login(client, "directrice")
    # The page shown after adding a PFMP keeps the form's address: Enter in the address bar asks it by GET
    opened = client.get(f"/etablissements/{UAI}/eleves/{student.student_id}/pfmps")
    assert opened.status_code == 405
    assert "Page introuvable" not in opened.text
    assert "revenez à la page précédente" in lead(opened.text)
    assert client.get(f"/api/v1/asp/dossiers/{student.schooling_id}/etats-liquidatifs").headers[
        "content-type"] == "application/json"


async def test_a_form_sent_incomplete_says_to_fill_it_again(client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    page = login(client, "directrice")
    sent = client.post(f"/etablissements/{UAI}/eleves/{student.student_id}/decision", data={
        "csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id), "mode": "", "statement": "yes"})
    assert sent.status_code == 422
    assert "vérifiez-le et renvoyez-le" in lead(sent.text)


async def test_an_unexpected_failure_shows_a_page_that_says_to_retry_without_the_error_s_text(
        pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    with make_client(database_url, namespace, oidc_issuer) as client:
        app: FastAPI = client.app  # type: ignore[assignment]

        async def broken(request: Request) -> None:
            raise RuntimeError("HADDAD Mehdi FR7630001007941234567890185")

        app.add_api_route("/etablissements/{uai}/panne", broken)
        app.add_api_route("/api/v1/panne", broken)
        login(client, "directrice")
        client_without_raise = TestClient(app, base_url="https://testserver", raise_server_exceptions=False,
                                          cookies=client.cookies)
        failed = client_without_raise.get(f"/etablissements/{UAI}/panne")
        assert failed.status_code == 500
        assert "text/html" in failed.headers["content-type"]
        assert "Réessayez dans quelques minutes" in lead(failed.text)
        assert "HADDAD" not in failed.text
        assert "FR76" not in failed.text
        api = client_without_raise.get("/api/v1/panne")
        assert api.status_code == 500
        assert api.json() == {"detail": "internal error, retry in a few minutes"}
