"""Academic users, ASP agents and the public through HTTP (TestClient), the real OIDC provider process and
the real database: the academy's establishments with their indicators and the drill-down, read-only for
them (every write route refused), the ASP agent reaching nothing but their search, and the public /stats."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from fractions import Fraction

import asyncpg
import pytest
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import lifecycle_sql
from aplypro_pfmp.domain.indicators import colour, ratio, shown
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from .test_web_app import all_routes, make_client
from .web_world import Seeded, csrf_of, login, seed_student

pytestmark = pytest.mark.integration
THIRD_UAI = "0999003M"  # a school of academy 15: the academy-14 user never sees it
SAMPLE = {"uai": UAI, "year": "2025", "label": "TLE PRO", "code": "14", "part": "zip", "start": "2026-01-05",
          "end": "2026-01-30"}  # any other parameter: a fresh uuid


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        client.app.state.today = lambda: date(2026, 6, 30)  # type: ignore[attr-defined]  # the pages' clock
        yield client


def filled(path: str) -> str:
    """A route's path with plausible values: a UAI, ids, the 2025 year, the demo class."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE.get(m.group(1), str(uuid.uuid4())), path)


def routes(client: TestClient, method: str) -> list[str]:
    return sorted({route.path for route in all_routes(client.app.router.routes)  # type: ignore[attr-defined]
                   if isinstance(route, APIRoute) and method in (route.methods or set())})


async def pfmp(pool: asyncpg.Pool, seeded: Seeded, status: str, start: date, end: date, *,
               request_state: str | None = None) -> uuid.UUID:
    """A PFMP in pfmp's tables, and its latest payment request's state as the gateway's events leave it."""
    pfmp_id = uuid.uuid4()
    async with pool.acquire() as conn:
        rank = await conn.fetchval("SELECT count(*) + 1 FROM pfmps WHERE schooling_id = $1", seeded.schooling_id)
        await conn.execute("INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, "
                           "status, rank) VALUES ($1, $2, $3, $4, $5, 10, $6, $7)", pfmp_id, seeded.schooling_id,
                           seeded.student_id, start, end, status, rank)
        if request_state is not None:
            at = datetime(2026, 2, 1, tzinfo=UTC)
            request_id = uuid.uuid4()
            await lifecycle_sql.calculator_state(conn, request_id, pfmp_id, 1, "pending", at, created=True,
                                                 event_type="PaymentRequested")
            await lifecycle_sql.gateway_state(conn, request_id, pfmp_id, 1, request_state, at,
                                              event_type="PaymentRequestStateChanged")
    return pfmp_id


@pytest.fixture
async def academy(pool: asyncpg.Pool) -> dict[str, Seeded]:
    """Academy 14: the demo school (a paid student, a student with neither DA nor RIB and a completed PFMP)
    and the other school (one student, nothing else); academy 15: a third school."""
    paid = await seed_student(pool, UAI, last_name="PAYE", academy="14")
    unpaid = await seed_student(pool, UAI, last_name="ATTENTE", academy="14", payable=False)
    other = await seed_student(pool, OTHER_UAI, last_name="AUTRE", academy="14")
    third = await seed_student(pool, THIRD_UAI, last_name="LOIN", academy="15")
    await pfmp(pool, paid, "validated", date(2026, 1, 5), date(2026, 1, 30), request_state="paid")
    await pfmp(pool, paid, "validated", date(2026, 3, 2), date(2026, 3, 27), request_state="sent")
    await pfmp(pool, unpaid, "completed", date(2026, 1, 5), date(2026, 1, 30))
    await pfmp(pool, third, "validated", date(2026, 1, 5), date(2026, 1, 30), request_state="paid")
    return {"paid": paid, "unpaid": unpaid, "other": other, "third": third}


def cells(page: str, uai: str) -> list[str]:
    """The text of the cells of an establishment's row."""
    row = re.search(rf"<tr>\s*<th scope=\"row\"><a[^>]*>{uai}</a></th>(.*?)</tr>", page, re.S)
    assert row is not None, f"no row for {uai}"
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]


async def test_an_academic_user_sees_the_academy_s_establishments_with_their_indicators(
        client: TestClient, academy: dict[str, Seeded]) -> None:
    home = login(client, "academique")
    # Straight to their only academy; the other academy's school is not listed
    assert home.url.path == "/academie/14"
    assert UAI in home.text
    assert OTHER_UAI in home.text
    assert THIRD_UAI not in home.text
    # Ranked by PFMPs paid: the demo school first
    assert home.text.index(UAI) < home.text.index(OTHER_UAI)
    assert cells(home.text, UAI) == [
        "2", "2",  # schoolings, students
        "1 50 %", "1 50 %",  # DA and RIB: only the paid student
        "0 0 %",  # students' data ready for the ASP: the seeded identities have no sex nor birthplace
        "3", "2", "1", "0",  # PFMPs: all, validated and finished, completed, incomplete
        "1", "0", "1",  # requests: sent, integrated, paid
        "1 50 %",  # students paid
        "1", "2", "50 %",  # PFMPs paid, payable, paid/payable
        "67 %", "0"]  # PFMPs validated / all, extended PFMPs
    assert cells(home.text, OTHER_UAI)[:4] == ["1", "1", "1 100 %", "1 100 %"]
    assert cells(home.text, OTHER_UAI)[15] == "0 %"  # nothing payable: 0, not a division by zero
    # Drill down: the establishment's classes, then the class's students and PFMPs
    school = client.get(f"/academie/14/etablissements/{UAI}")
    assert school.status_code == 200
    assert "TLE PRO" in school.text
    klass = client.get(f"/academie/14/etablissements/{UAI}/annees/2025/classes/TLE PRO")
    assert klass.status_code == 200
    assert "PAYE Mehdi" in klass.text
    assert "ATTENTE Mehdi" in klass.text
    assert "05/01/2026 → 30/01/2026" in klass.text
    assert "Saisie à valider" in klass.text
    # Read only: no form but the logout button
    for page in (home, school, klass):
        assert page.text.count("<form") == 1
        assert '/deconnexion"' in page.text
    # Another academy, or its school through this academy: not found
    assert client.get("/academie/15").status_code == 404
    assert client.get(f"/academie/14/etablissements/{THIRD_UAI}").status_code == 404
    assert client.get(f"/academie/15/etablissements/{THIRD_UAI}").status_code == 404


async def test_an_academic_user_is_refused_every_write_and_every_establishment_page(
        client: TestClient, academy: dict[str, Seeded], pool: asyncpg.Pool) -> None:
    token = csrf_of(login(client, "academique"))
    posts = [path for path in routes(client, "POST") if path != "/deconnexion"]
    assert len(posts) >= 6  # add, edit, delete, validate PFMPs, downloads, the ASP search...
    for path in posts:
        answer = client.post(filled(path), data={"csrf_token": token})
        assert answer.status_code == 403, path
    gets = [path for path in routes(client, "GET") if path.startswith(("/etablissements", "/asp", "/api", "/national"))
            and not path.startswith("/api/v1/academies")]  # their own JSON API: tests/test_web_academic.py
    for path in gets:
        assert client.get(filled(path)).status_code == 403, path
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pfmp_actions") == 0


async def test_an_asp_agent_reaches_only_their_search(client: TestClient, academy: dict[str, Seeded]) -> None:
    home = login(client, "agent-asp")
    assert home.url.path == "/asp"
    assert "Numéro de décision d'attribution" in home.text
    token = csrf_of(home)
    own = {"/", "/stats", "/asp", "/connexion", "/connexion/{realm}", "/auth/callback", "/auth/callback/{realm}",
           "/healthz", "/readyz",  # the probes: public, no data (test_web_health.py)
           "/asp/dossiers/{schooling_id}",
           "/asp/documents/{document_id}", "/api/v1/asp/dossiers/{schooling_id}"}  # these: tests/test_web_documents.py
    for path in routes(client, "GET"):
        if path not in own:
            assert client.get(filled(path)).status_code == 403, path
    regenerate = {"/asp/dossiers/{schooling_id}/etats-liquidatifs",
                  "/api/v1/asp/dossiers/{schooling_id}/etats-liquidatifs"}  # tests/test_web_documents.py
    for path in routes(client, "POST"):
        if path not in {"/deconnexion", "/asp/recherche", "/api/v1/asp/recherche"} | regenerate:
            assert client.post(filled(path), data={"csrf_token": token}).status_code == 403, path
    for path in regenerate:  # a dossier this session did not find: not found
        assert client.post(filled(path), data={"csrf_token": token}).status_code == 404, path
    # A dossier this session did not find is not reachable by its id
    assert client.get(f"/asp/dossiers/{academy['paid'].schooling_id}").status_code == 404
    # A malformed number is refused before any call, with what to do
    refused = client.post("/asp/recherche", data={"csrf_token": token, "number": "ABC"})
    assert "18 ou 19 caractères" in refused.text


async def test_the_public_stats_page_shows_aggregates_only(client: TestClient, academy: dict[str, Seeded]) -> None:
    page = client.get("/stats")  # no login
    assert page.status_code == 200
    totals = re.findall(r'<p class="fr-tile__title">([^<]+)</p>', page.text)
    assert totals == ["2", "2", "2", "4"]  # students paid, PFMPs paid, requests paid, schoolings
    rows = dict(re.findall(r'<th scope="row">(\w+)</th><td>(\d+)</td>', page.text))
    assert rows == {"14": "3", "15": "1"}
    for seeded in academy.values():
        assert seeded.last_name not in page.text
    assert UAI not in page.text
    assert OTHER_UAI not in page.text


def test_ratios_show_as_features_md_says() -> None:
    assert shown(ratio(0, 0)) == "0 %"
    assert shown(ratio(3, 0)) == "Infini"
    assert shown(ratio(2, 3)) == "67 %"
    assert [colour(Fraction(n, 10)) for n in (9, 8, 7, 5, 3, 2, 1)] == [
        "success", "success", "new", "new", "warning", "warning", "error"]
    assert colour(None) == "success"  # infinite counts as above every threshold
