"""Every route of the assembled web application, checked on the server for every kind of user (features.md §1:
nothing is guarded only in the interface). Each route is put in one scope below; a route added without a scope
fails the first test, so a new page cannot ship without its guard being exercised here.

The refusals are asked with a valid CSRF token and valid ids (a student of the demo school), so what answers is
the role or scope guard, not the CSRF check nor a malformed path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from aplypro_local.school import UAI
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from .test_web_app import all_routes, make_client
from .web_world import Seeded, csrf_of, login, seed_student

pytestmark = pytest.mark.integration

PUBLIC = {"/", "/stats", "/healthz", "/readyz", "/connexion", "/connexion/{realm}", "/auth/callback",
          "/auth/callback/{realm}", "/deconnexion"}
# The establishment's actions that only its director (confirmed, or ticking the statement) may take.
DIRECTOR_ONLY = {
    "staff_page", "invite_staff", "revoke_staff", "validate_pfmp", "validate_class", "issue_missing_decisions",
    "reissue_decisions", "issue_student_decision", "abrogate_decision", "withdraw_page", "withdraw_decision",
    "set_report", "relaunch_payment", "retry_blocked_payment",
}


def scope_of(route: APIRoute) -> str:
    path = route.path
    if path in PUBLIC:
        return "public"
    if path.startswith(("/etablissements/{uai}", "/api/v1/etablissements/{uai}")):
        return "director" if route.name in DIRECTOR_ONLY else "establishment"
    if path.startswith(("/national", "/api/v1/national")):
        return "national"
    if path.startswith(("/academie", "/api/v1/academies")):
        return "academy"
    if path.startswith(("/asp", "/api/v1/asp")):
        return "asp"
    return "unclassified"


def routes_of(app: FastAPI) -> list[tuple[APIRoute, str]]:
    return [(r, method) for r in all_routes(app.routes) if isinstance(r, APIRoute)
            for method in sorted(r.methods or set()) if method != "HEAD"]


def url_of(route: APIRoute, student: Seeded, *, academy: str = "14") -> str:
    other = uuid.uuid4()
    path = route.path.format(
        uai=UAI, student_id=student.student_id, schooling_id=student.schooling_id, pfmp_id=other,
        invitation_id=other, batch_id=other, document_id=other, year=2025, label="TLE PRO", start="2026-03-02",
        end="2026-03-13", part="zip", code=academy, taken_on="2026-01-03")
    # annee: a route that needs it must get past parameter parsing to its guard
    return f"{path}?annee=2025&scolarite={student.schooling_id}"


def ask(client: TestClient, route: APIRoute, method: str, url: str, csrf: str, student: Seeded) -> int:
    if method == "GET":
        return client.get(url, follow_redirects=False).status_code
    data = {"csrf_token": csrf, "schooling_id": str(student.schooling_id), "statement": "yes",
            "confirmation": "yes", "email": "someone@ac-demo.fr", "academy": "14", "number": "0" * 18}
    headers = {"x-csrf-token": csrf} if route.path.startswith("/api/") else {}
    return client.request(method, url, data=data, headers=headers, follow_redirects=False).status_code


@pytest.fixture
def app_client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


def test_every_route_has_a_scope() -> None:
    from aplypro_pfmp.entrypoints.web.app import create_app
    from aplypro_pfmp.entrypoints.web.settings import WebSettings

    app = create_app(web_settings=WebSettings(oidc_issuer="http://127.0.0.1:9"))  # no network until a login
    routes = routes_of(app)
    assert len(routes) >= 70
    assert [r.path for r, _ in routes if scope_of(r) == "unclassified"] == []
    names = {r.name for r, _ in routes}
    assert DIRECTOR_ONLY <= names  # a renamed route must stay in the list


# Who is refused what, and how: 403 for a user whose role has no such page, 404 where the page exists for others
# of the same role (another establishment, another academy: no hint that it exists).
REFUSED: dict[str, dict[str, int]] = {
    "establishment": {"academique": 403, "agent-asp": 403, "national": 403, "autre-ecole": 404},
    "director": {"academique": 403, "agent-asp": 403, "national": 403, "autre-ecole": 404, "personnel": 403},
    "academy": {"directrice": 403, "personnel": 403, "autre-ecole": 403, "agent-asp": 403},
    "national": {"directrice": 403, "personnel": 403, "autre-ecole": 403, "agent-asp": 403, "academique": 403},
    "asp": {"directrice": 403, "personnel": 403, "autre-ecole": 403, "academique": 403, "national": 403},
}


async def test_each_user_is_refused_every_route_outside_their_role_and_scope(
        pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    wrong: list[tuple[str, str, str, int, int]] = []
    for sub in ("directrice", "personnel", "autre-ecole", "academique", "national", "agent-asp"):
        with make_client(database_url, namespace, oidc_issuer) as client:
            csrf = csrf_of(login(client, sub))
            for route, method in routes_of(client.app):  # type: ignore[arg-type]
                expected = REFUSED.get(scope_of(route), {}).get(sub)
                if expected is None:
                    continue
                got = ask(client, route, method, url_of(route, student), csrf, student)
                if got != expected:
                    wrong.append((sub, method, route.path, expected, got))
    assert wrong == []


async def test_an_academic_user_gets_404_for_another_academy_on_every_academy_route(
        pool: asyncpg.Pool, app_client: TestClient) -> None:
    student = await seed_student(pool, UAI)
    csrf = csrf_of(login(app_client, "academique"))  # academy 14 only
    wrong = []
    for route, method in routes_of(app_client.app):  # type: ignore[arg-type]
        if scope_of(route) == "academy" and "{code}" in route.path:  # /academie alone leads to one's own
            got = ask(app_client, route, method, url_of(route, student, academy="13"), csrf, student)
            if got != 404:
                wrong.append((method, route.path, got))
    assert wrong == []


async def test_without_a_session_every_page_sends_to_the_login_and_every_api_route_answers_401(
        pool: asyncpg.Pool, app_client: TestClient) -> None:
    student = await seed_student(pool, UAI)
    wrong = []
    for route, method in routes_of(app_client.app):  # type: ignore[arg-type]
        if scope_of(route) == "public" or method != "GET":
            continue  # an anonymous POST has no session token: the CSRF check refuses it (test_web_app)
        got = ask(app_client, route, method, url_of(route, student), "", student)
        if got != (401 if route.path.startswith("/api/") else 303):
            wrong.append((route.path, got))
    assert wrong == []
