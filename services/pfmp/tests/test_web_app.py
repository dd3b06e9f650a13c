"""The web application through HTTP (TestClient), the real OIDC provider process and the real database:
login and roles, establishment scope on every route, CSRF, cookies, rate limit, add and validate a PFMP."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.web.api import openapi_document
from aplypro_pfmp.entrypoints.web.app import create_app
from aplypro_pfmp.entrypoints.web.settings import WebSettings
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from .web_world import csrf_of, login, seed_student

pytestmark = pytest.mark.integration


def make_client(database_url: str, namespace: str, issuer: str, *, logins_per_minute: int = 10) -> TestClient:
    settings = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace, database_url=database_url)
    app = create_app(settings, WebSettings(oidc_issuer=issuer, login_attempts_per_minute=logins_per_minute))
    return TestClient(app, base_url="https://testserver")  # https: the session cookie is Secure


def all_routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, included routers unfolded (FastAPI keeps them as one entry each)."""
    for route in routes:
        yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


async def test_a_director_logs_in_adds_a_pfmp_and_sees_it_listed(client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    # The director lands on their only establishment, its classes counted
    home = login(client, "directrice")
    assert home.status_code == 200
    assert f"Établissement {UAI}" in home.text
    assert "TLE PRO" in home.text
    assert "Claire Martin" in home.text
    # The class page lists the student; the student page offers the form
    page = client.get(f"/etablissements/{UAI}/eleves/{student.student_id}")
    assert page.status_code == 200
    assert "Aucune PFMP" in page.text
    added = client.post(f"/etablissements/{UAI}/eleves/{student.student_id}/pfmps", data={
        "csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id), "start_date": "2026-01-05",
        "end_date": "2026-01-30", "day_count": "18"})
    # The page after the POST shows the new PFMP at once, in its French state
    assert added.status_code == 200
    assert "La PFMP est enregistrée." in added.text
    assert "05/01/2026 → 30/01/2026" in added.text
    assert "Saisie à valider" in added.text
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmps WHERE student_id = $1", student.student_id) == 1
        assert await conn.fetchval("SELECT user_id FROM pfmp_actions WHERE action = 'record'") == "directrice"
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1  # PfmpRecorded, same transaction
    klass = client.get(f"/etablissements/{UAI}/annees/2025/classes/TLE PRO")
    assert klass.status_code == 200
    assert "05/01/2026 → 30/01/2026" in klass.text


async def test_a_refused_pfmp_says_what_to_do_and_writes_nothing(client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    page = login(client, "personnel")
    page = client.get(f"/etablissements/{UAI}/eleves/{student.student_id}")
    refused = client.post(f"/etablissements/{UAI}/eleves/{student.student_id}/pfmps", data={
        "csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id), "start_date": "2026-02-10",
        "end_date": "2026-02-01", "day_count": ""})
    assert "La date de fin est avant la date de début" in refused.text
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmps") == 0


async def test_staff_of_another_school_gets_404_for_a_student_of_this_school(client: TestClient,
                                                                            pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    other = await seed_student(pool, OTHER_UAI, last_name="AUTRE")
    home = login(client, "autre-ecole")
    assert f"Établissement {OTHER_UAI}" in home.text
    token = csrf_of(client.get(f"/etablissements/{OTHER_UAI}/eleves/{other.student_id}"))
    # Through the other school's pages, and through their own establishment's URL: not found either way
    assert client.get(f"/etablissements/{UAI}/eleves/{student.student_id}").status_code == 404
    assert client.get(f"/etablissements/{OTHER_UAI}/eleves/{student.student_id}").status_code == 404
    assert client.get(f"/etablissements/{UAI}").status_code == 404
    assert client.get(f"/etablissements/{UAI}/annees/2025/classes/TLE PRO").status_code == 404
    for uai in (UAI, OTHER_UAI):
        posted = client.post(f"/etablissements/{uai}/eleves/{student.student_id}/pfmps", data={
            "csrf_token": token, "schooling_id": str(student.schooling_id), "start_date": "2026-01-05",
            "end_date": "2026-01-30", "day_count": "18"})
        assert posted.status_code == 404
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmps") == 0


async def test_a_user_with_no_role_is_refused_with_a_clear_page(client: TestClient) -> None:
    refused = login(client, "sans-role")
    assert refused.status_code == 403
    assert "Accès refusé" in refused.text
    assert "aucun établissement" in refused.text
    assert client.get(f"/etablissements/{UAI}", follow_redirects=False).status_code == 303  # not logged in


@pytest.mark.parametrize("sub", ["academique", "agent-asp"])
async def test_academic_users_and_asp_agents_cannot_reach_establishment_pages(client: TestClient,
                                                                             pool: asyncpg.Pool, sub: str) -> None:
    student = await seed_student(pool, UAI)
    home = login(client, sub)
    assert home.status_code == 200
    assert home.url.path == {"academique": "/academie/14", "agent-asp": "/asp"}[sub]  # their own pages
    assert client.get(f"/etablissements/{UAI}").status_code == 403
    assert client.get(f"/etablissements/{UAI}/eleves/{student.student_id}").status_code == 403


async def test_only_the_confirmed_director_validates_and_the_statement_is_ticked_once(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    page = login(client, "directrice")
    page = client.get(f"/etablissements/{UAI}/eleves/{student.student_id}")
    page = client.post(f"/etablissements/{UAI}/eleves/{student.student_id}/pfmps", data={
        "csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id), "start_date": "2026-01-05",
        "end_date": "2026-01-30", "day_count": "18"})
    pfmp_id = re.search(r'data-pfmp="([0-9a-f-]+)"', page.text).group(1)  # type: ignore[union-attr]
    url = f"/etablissements/{UAI}/pfmps/{pfmp_id}/validation"
    # Authorised staff may not validate, whatever the form says
    with make_client(database_url, namespace, oidc_issuer) as staff:
        staff_page = login(staff, "personnel")
        assert staff.post(url, data={"csrf_token": csrf_of(staff_page), "statement": "yes"}).status_code == 403
    # The director must tick the statement first
    unticked = client.post(url, data={"csrf_token": csrf_of(page)})
    assert "Cochez la déclaration" in unticked.text
    assert "Saisie à valider" in unticked.text
    validated = client.post(url, data={"csrf_token": csrf_of(page), "statement": "yes"})
    assert "La PFMP est validée" in validated.text
    assert "Validée" in validated.text
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT user_id FROM confirmed_directors WHERE uai = $1", UAI) == "directrice"
        assert await conn.fetchval("SELECT status FROM pfmps WHERE pfmp_id = $1::uuid", pfmp_id) == "validated"
        assert await conn.fetchval("SELECT user_id FROM pfmp_actions WHERE action = 'validate'") == "directrice"
    # Confirmed once: the statement is no longer asked
    assert "je valide électroniquement" not in client.get(
        f"/etablissements/{UAI}/eleves/{student.student_id}").text


async def test_every_form_route_refuses_a_post_without_the_session_csrf_token(client: TestClient,
                                                                           pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    page = login(client, "directrice")
    app: FastAPI = client.app  # type: ignore[assignment]
    post_routes = [r for r in all_routes(app.routes) if isinstance(r, APIRoute) and "POST" in (r.methods or set())]
    assert len(post_routes) >= 8
    for route in post_routes:
        path = route.path.format(uai=UAI, student_id=student.student_id, pfmp_id=student.schooling_id, invitation_id=student.schooling_id,
                                 schooling_id=student.schooling_id, year=2025, label="TLE PRO", start="2026-03-02", end="2026-03-13")
        for data in ({}, {"csrf_token": "forged"}):
            refused = client.post(path, data=data, follow_redirects=False)
            assert refused.status_code == 403, (route.path, data)
    assert client.post("/deconnexion", data={"csrf_token": csrf_of(page)}, follow_redirects=False).status_code == 303


async def test_the_session_cookie_is_httponly_secure_and_samesite(client: TestClient) -> None:
    to_provider = client.get("/connexion", follow_redirects=False)
    cookie = to_provider.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=lax" in cookie
    # The code flow uses PKCE (S256)
    assert "code_challenge=" in to_provider.headers["location"]
    assert "code_challenge_method=S256" in to_provider.headers["location"]


async def test_logins_are_rate_limited(pool: asyncpg.Pool, database_url: str, namespace: str,
                                       oidc_issuer: str) -> None:
    with make_client(database_url, namespace, oidc_issuer, logins_per_minute=3) as client:
        codes = [client.get("/connexion", follow_redirects=False).status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]


async def test_a_login_without_the_director_role_drops_the_confirmation(pool: asyncpg.Pool,
                                                                        client: TestClient) -> None:
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO confirmed_directors (uai, user_id) VALUES ($1, 'personnel')", UAI)
    login(client, "personnel")  # authorised staff only, no longer director
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM confirmed_directors") == 0


async def test_no_personal_data_reaches_the_logs_or_the_urls(client: TestClient, pool: asyncpg.Pool,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    student = await seed_student(pool, UAI, last_name="ZYGOMATIQUE")
    login(client, "directrice")
    page = client.get(f"/etablissements/{UAI}/eleves/{student.student_id}")
    client.post(f"/etablissements/{UAI}/eleves/{student.student_id}/pfmps", data={
        "csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id), "start_date": "2026-01-05",
        "end_date": "2026-01-30", "day_count": "18"})
    assert "ZYGOMATIQUE" in page.text
    hrefs = re.findall(r'(?:href|action)="([^"]+)"', page.text)
    assert hrefs
    assert not any(student.ine in h or "ZYGOMATIQUE" in h for h in hrefs)
    out = capsys.readouterr()
    for secret in ("ZYGOMATIQUE", student.ine, "Claire", "directrice@ac-demo.fr"):
        assert secret not in out.out + out.err


def add_pfmp_as(client: TestClient, student_id: object, schooling_id: object, days: str = "18") -> str:
    """Add the January PFMP through the page; returns its id."""
    page = client.get(f"/etablissements/{UAI}/eleves/{student_id}")
    added = client.post(f"/etablissements/{UAI}/eleves/{student_id}/pfmps", data={
        "csrf_token": csrf_of(page), "schooling_id": str(schooling_id), "start_date": "2026-01-05",
        "end_date": "2026-01-30", "day_count": days})
    found = re.search(r'data-pfmp="([0-9a-f-]+)"', added.text)
    assert found, added.text
    return found.group(1)


async def test_staff_edit_then_delete_a_pfmp_each_audited(client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    login(client, "personnel")
    pfmp_id = add_pfmp_as(client, student.student_id, student.schooling_id)
    form = client.get(f"/etablissements/{UAI}/pfmps/{pfmp_id}/modification")
    assert 'value="2026-01-05"' in form.text
    # Clearing the day count sends the PFMP back to "À compléter"
    edited = client.post(f"/etablissements/{UAI}/pfmps/{pfmp_id}/modification", data={
        "csrf_token": csrf_of(form), "start_date": "2026-01-05", "end_date": "2026-01-23", "day_count": ""})
    assert "La PFMP est modifiée." in edited.text
    assert "05/01/2026 → 23/01/2026" in edited.text
    assert "À compléter" in edited.text
    deleted = client.post(f"/etablissements/{UAI}/pfmps/{pfmp_id}/suppression", data={"csrf_token": csrf_of(edited)})
    assert "La PFMP est supprimée." in deleted.text
    assert "Aucune PFMP" in deleted.text
    async with pool.acquire() as conn:
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM pfmp_actions WHERE user_id = 'personnel' ORDER BY id")]
        assert actions == ["record", "edit", "delete"]
        assert await conn.fetchval("SELECT deleted FROM pfmps WHERE pfmp_id = $1::uuid", pfmp_id) is True


async def test_a_validated_pfmp_is_changed_only_by_the_confirmed_director(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    login(client, "directrice")
    pfmp_id = add_pfmp_as(client, student.student_id, student.schooling_id)
    page = client.post(f"/etablissements/{UAI}/pfmps/{pfmp_id}/validation", data={
        "csrf_token": csrf_of(client.get(f"/etablissements/{UAI}/eleves/{student.student_id}")), "statement": "yes"})
    assert "La PFMP est validée" in page.text
    with make_client(database_url, namespace, oidc_issuer) as staff:
        token = csrf_of(login(staff, "personnel"))
        assert staff.get(f"/etablissements/{UAI}/pfmps/{pfmp_id}/modification").status_code == 403
        assert staff.post(f"/etablissements/{UAI}/pfmps/{pfmp_id}/modification", data={
            "csrf_token": token, "start_date": "2026-01-05", "end_date": "2026-01-30", "day_count": "5"},
        ).status_code == 403
        assert staff.post(f"/etablissements/{UAI}/pfmps/{pfmp_id}/suppression",
                          data={"csrf_token": token}).status_code == 403
    # The confirmed director may: the day count changes, the PFMP stays validated
    edited = client.post(f"/etablissements/{UAI}/pfmps/{pfmp_id}/modification", data={
        "csrf_token": csrf_of(page), "start_date": "2026-01-05", "end_date": "2026-01-30", "day_count": "17"})
    assert "La PFMP est modifiée." in edited.text
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT day_count, status FROM pfmps WHERE pfmp_id = $1::uuid", pfmp_id)
        assert row is not None
        assert (row["day_count"], row["status"]) == (17, "validated")


async def test_staff_of_another_school_cannot_edit_or_delete_its_pfmps(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    login(client, "personnel")
    pfmp_id = add_pfmp_as(client, student.student_id, student.schooling_id)
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        for uai in (UAI, OTHER_UAI):
            assert other.get(f"/etablissements/{uai}/pfmps/{pfmp_id}/modification").status_code == 404
            assert other.post(f"/etablissements/{uai}/pfmps/{pfmp_id}/suppression",
                              data={"csrf_token": token}).status_code == 404
            assert other.post(f"/etablissements/{uai}/pfmps/{pfmp_id}/validation",
                              data={"csrf_token": token, "statement": "yes"}).status_code == 404
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT deleted FROM pfmps WHERE pfmp_id = $1::uuid", pfmp_id) is False


async def test_one_pfmp_for_the_whole_class_all_or_nothing_then_the_ticked_ones_validated(
        client: TestClient, pool: asyncpg.Pool) -> None:
    first = await seed_student(pool, UAI, last_name="ALPHA")
    second = await seed_student(pool, UAI, last_name="BETA")
    other = await seed_student(pool, OTHER_UAI, last_name="GAMMA")
    login(client, "directrice")
    class_url = f"/etablissements/{UAI}/annees/2025/classes/TLE PRO"
    # BETA already has a PFMP overlapping February: the class-wide PFMP is refused for everyone
    add_pfmp_as(client, second.student_id, second.schooling_id)
    page = client.get(class_url)
    refused = client.post(f"{class_url}/pfmps", data={"csrf_token": csrf_of(page), "start_date": "2026-01-20",
                                                     "end_date": "2026-02-13", "day_count": "15"})
    assert "Rien n&#39;a été enregistré." in refused.text
    assert "chevauche" in refused.text
    assert "BETA" in refused.text
    assert "ALPHA" in refused.text
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmps WHERE student_id = $1", first.student_id) == 0
    added = client.post(f"{class_url}/pfmps", data={"csrf_token": csrf_of(page), "start_date": "2026-03-02",
                                                   "end_date": "2026-03-27", "day_count": "18"})
    assert "PFMP enregistrée pour 2 élève(s)." in added.text
    ticked = re.findall(r'name="pfmp_ids" value="([0-9a-f-]+)"', added.text)
    assert len(ticked) == 3  # January for BETA, March for both
    # A PFMP of another establishment slipped into the selection: not found, nothing validated
    async with pool.acquire() as conn:
        foreign = await conn.fetchval("SELECT gen_random_uuid()")
    assert client.post(f"{class_url}/validation", data={
        "csrf_token": csrf_of(added), "statement": "yes", "pfmp_ids": [*ticked, str(foreign)]}).status_code == 404
    validated = client.post(f"{class_url}/validation", data={"csrf_token": csrf_of(added), "statement": "yes",
                                                             "pfmp_ids": ticked})
    assert "3 PFMP validée(s)" in validated.text
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmps WHERE status = 'validated'") == 3
        assert await conn.fetchval("SELECT count(*) FROM pfmps WHERE student_id = $1", other.student_id) == 0


async def test_bulk_day_counts_of_a_class_period_all_or_nothing(client: TestClient, pool: asyncpg.Pool,
                                                                database_url: str, namespace: str,
                                                                oidc_issuer: str) -> None:
    await seed_student(pool, UAI, last_name="ALPHA")
    await seed_student(pool, UAI, last_name="BETA")
    stranger = await seed_student(pool, UAI, last_name="GAMMA", class_label="1RE PRO")
    login(client, "personnel")
    class_url = f"/etablissements/{UAI}/annees/2025/classes/TLE PRO"
    added = client.post(f"{class_url}/pfmps", data={"csrf_token": csrf_of(client.get(class_url)),
                                                   "start_date": "2026-03-02", "end_date": "2026-03-13"})
    assert "Du 02/03/2026 au 13/03/2026 (2 élève(s))" in added.text
    period_url = f"{class_url}/periodes/2026-03-02/2026-03-13"
    page = client.get(period_url)
    ids = re.findall(r'name="days-([0-9a-f-]+)"', page.text)
    assert len(ids) == 2
    # 20 days in a 12-day period: refused, and the other line is not written either
    refused = client.post(period_url, data={"csrf_token": csrf_of(page), f"days-{ids[0]}": "10",
                                            f"days-{ids[1]}": "20"})
    assert "Rien n&#39;a été enregistré." in refused.text
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmps WHERE day_count IS NOT NULL") == 0
    # A PFMP of another class slipped into the form: not found
    client.post(f"/etablissements/{UAI}/eleves/{stranger.student_id}/pfmps", data={
        "csrf_token": csrf_of(page), "schooling_id": str(stranger.schooling_id), "start_date": "2026-03-02",
        "end_date": "2026-03-13", "day_count": ""})
    async with pool.acquire() as conn:
        foreign = await conn.fetchval("SELECT pfmp_id FROM pfmps WHERE student_id = $1", stranger.student_id)
    assert client.post(period_url, data={"csrf_token": csrf_of(page), f"days-{foreign}": "5"}).status_code == 404
    saved = client.post(period_url, data={"csrf_token": csrf_of(page), f"days-{ids[0]}": "10",
                                          f"days-{ids[1]}": "9"})
    assert "Jours enregistrés pour 2 élève(s)." in saved.text
    async with pool.acquire() as conn:
        assert sorted(r["day_count"] for r in await conn.fetch(
            "SELECT day_count FROM pfmps WHERE status = 'completed'")) == [9, 10]
        assert await conn.fetchval("SELECT count(*) FROM pfmp_actions WHERE action = 'edit'") == 2
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        assert other.get(period_url).status_code == 404
        assert other.post(period_url, data={"csrf_token": token, f"days-{ids[0]}": "1"}).status_code == 404


async def test_the_json_api_applies_the_same_guards_and_its_openapi_document_is_published(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    url = f"/api/v1/etablissements/{UAI}/eleves/{student.student_id}/pfmps"
    assert client.get(url).status_code == 401  # no session
    login(client, "personnel")
    add_pfmp_as(client, student.student_id, student.schooling_id)
    listed = client.get(url).json()
    assert [(p["start_date"], p["status_label"], p["read_only"]) for p in listed] == [
        ("2026-01-05", "Saisie à valider", False)]
    with make_client(database_url, namespace, oidc_issuer) as other:
        login(other, "autre-ecole")
        assert other.get(url).status_code == 404
        assert other.get(f"/api/v1/etablissements/{OTHER_UAI}/eleves/{student.student_id}/pfmps").status_code == 404
    published = Path(__file__).resolve().parents[3] / "docs" / "web-api.openapi.json"
    assert published.read_text(encoding="utf-8") == openapi_document(), "run `uv run aplypro-pfmp openapi`"


async def test_a_user_of_several_establishments_chooses_one_and_reaches_each(client: TestClient,
                                                                             pool: asyncpg.Pool) -> None:
    ours = await seed_student(pool, UAI, last_name="ICI")
    theirs = await seed_student(pool, OTHER_UAI, last_name="LABAS")
    home = login(client, "deux-ecoles")
    assert home.url.path == "/"  # no establishment chosen for them
    assert "Choisissez un établissement" in home.text
    for uai, student in ((UAI, ours), (OTHER_UAI, theirs)):
        assert f'href="https://testserver/etablissements/{uai}"' in home.text
        assert client.get(f"/etablissements/{uai}").status_code == 200
        assert student.last_name in client.get(f"/etablissements/{uai}/eleves/{student.student_id}").text
    # Each student only through their own establishment
    assert client.get(f"/etablissements/{UAI}/eleves/{theirs.student_id}").status_code == 404
