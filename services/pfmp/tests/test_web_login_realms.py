"""Several login realms (features.md §1: FIM and CAS for schools, an academic realm, a separate ASP realm), each a
real OIDC provider process: one button per realm, a callback per realm, and each realm granting only its own
roles (an ASP e-mail arriving through a school realm is no ASP agent; an academy code arriving through the ASP
realm is ignored). The collèges authorised by name reach the application through the same login."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx2
import itsdangerous
import pytest
from aplypro_local.oidc import DEMO_ACCOUNTS, OidcProvider
from aplypro_local.school import UAI
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.domain.access import RealmKind
from aplypro_pfmp.entrypoints.web.app import create_app
from aplypro_pfmp.entrypoints.web.settings import OidcRealm, WebSettings
from pydantic import SecretStr
from starlette.testclient import TestClient

from .web_world import login

pytestmark = pytest.mark.integration

COLLEGE = "0999004N"
AGENT = DEMO_ACCOUNTS["agent-asp"]
# The school realm's provider: the demo accounts (among them the ASP agent's e-mail) and a collège's head.
SCHOOL_ACCOUNTS: dict[str, dict[str, object]] = {
    **DEMO_ACCOUNTS,
    "principale-college": {"email": "principale@ac-demo.fr", "given_name": "Lina", "family_name": "Roy",
                           "FrEduFonctAdm": "DIR", "FrEduRneResp": [f"{COLLEGE}$UAJ$PU$N$T3$CLG$340"]}}
# The ASP realm's provider: the agent, the same person with an academy code, a rectorat user with only that code.
ASP_ACCOUNTS: dict[str, dict[str, object]] = {"agent-asp": AGENT,
                                               "agent-asp-academie": {**AGENT, "AplyproAcademieResp": ["14"]},
                                               "rectorat": DEMO_ACCOUNTS["academique"]}


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, str]]:
    """Two provider processes: the schools' (FIM-like, also behind the academic realm) and the ASP's."""
    school = OidcProvider.start(accounts=SCHOOL_ACCOUNTS)
    try:
        asp = OidcProvider.start(accounts=ASP_ACCOUNTS)
        try:
            yield {"school": school.issuer, "asp": asp.issuer}
        finally:
            asp.stop()
    finally:
        school.stop()


def realms_settings(providers: dict[str, str], **extra: object) -> WebSettings:
    realm = {
        "fim": OidcRealm(kind=RealmKind.SCHOOL, issuer=providers["school"], client_id="aplypro-fim",
                         client_secret=SecretStr("fim-secret"), label="Éducation nationale, Mer, Armées (FIM)"),
        "academique": OidcRealm(kind=RealmKind.ACADEMIC, issuer=providers["school"], client_id="aplypro-acad",
                                client_secret=SecretStr("acad-secret")),
        "asp": OidcRealm(kind=RealmKind.ASP, issuer=providers["asp"], client_id="aplypro-asp",
                         client_secret=SecretStr("asp-secret")),
    }
    return WebSettings(oidc_realms=tuple(realm), oidc_realm=realm, **extra)  # type: ignore[arg-type]


def make_client(database_url: str, namespace: str, web: WebSettings) -> TestClient:
    settings = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace, database_url=database_url)
    return TestClient(create_app(settings, web), base_url="https://testserver")  # https: the cookie is Secure


def session_of(client: TestClient) -> dict[str, object]:
    """The signed session cookie's content, as the server reads it."""
    secret = client.app.state.web_settings.session_secret.get_secret_value()  # type: ignore[attr-defined]
    signed = client.cookies["aplypro_session"].encode()
    data: dict[str, object] = json.loads(base64.b64decode(itsdangerous.TimestampSigner(secret).unsign(signed)))
    return data


@pytest.fixture
def client(pool: object, database_url: str, namespace: str, providers: dict[str, str]) -> Iterator[TestClient]:
    with make_client(database_url, namespace, realms_settings(providers)) as client:
        yield client


async def test_the_login_page_offers_one_button_per_realm(client: TestClient) -> None:
    page = client.get("/connexion")
    assert page.status_code == 200
    buttons = page.text[page.text.index('data-testid="realms"'):]
    assert buttons.index("/connexion/fim") < buttons.index("/connexion/academique") < buttons.index("/connexion/asp")
    for label in ("Éducation nationale, Mer, Armées (FIM)", "Services académiques et ministère", "Agents de l&#39;ASP"):
        assert label in page.text
    # Each button goes to its own provider, with its own client, PKCE and callback
    to_asp = client.get("/connexion/asp", follow_redirects=False)
    assert to_asp.status_code == 302
    query = parse_qs(urlsplit(to_asp.headers["location"]).query)
    assert to_asp.headers["location"].startswith(client.app.state.realms["asp"].issuer)  # type: ignore[attr-defined]
    assert query["client_id"] == ["aplypro-asp"]
    assert query["redirect_uri"] == ["https://testserver/auth/callback/asp"]
    assert query["code_challenge_method"] == ["S256"]
    # No other realm, and no single-provider callback when realms are named
    assert client.get("/connexion/autre", follow_redirects=False).status_code == 404
    assert client.get("/auth/callback/autre?code=x&state=y").status_code == 404
    assert client.get("/auth/callback?code=x&state=y").status_code == 404


async def test_an_asp_agent_logs_in_through_the_asp_realm_and_reaches_only_the_asp_search(
        client: TestClient) -> None:
    home = login(client, "agent-asp", realm="asp")
    assert home.status_code == 200
    assert home.url.path == "/asp"
    user = session_of(client)["user"]
    assert isinstance(user, dict)
    assert user["realm"] == "asp"
    assert user["roles"] == {"dir": [], "authorised": [], "academies": [], "asp": True}
    for page in ("/academie", "/national", f"/etablissements/{UAI}"):
        assert client.get(page, follow_redirects=False).status_code == 403, page


async def test_an_academy_code_through_the_asp_realm_makes_no_academic_user(client: TestClient) -> None:
    home = login(client, "agent-asp-academie", realm="asp")
    assert home.url.path == "/asp"
    assert client.get("/academie", follow_redirects=False).status_code == 403
    user = session_of(client)["user"]
    assert isinstance(user, dict)
    assert user["roles"] == {"dir": [], "authorised": [], "academies": [], "asp": True}
    # A rectorat identity with nothing but its academy code is refused through the ASP realm
    refused = login(client, "rectorat", realm="asp")
    assert refused.status_code == 403
    assert "Accès refusé" in refused.text
    assert "user" not in session_of(client)


async def test_an_asp_email_through_the_school_realm_is_refused(client: TestClient) -> None:
    refused = login(client, "agent-asp", realm="fim")
    assert refused.status_code == 403
    assert "Accès refusé" in refused.text
    assert "Choisir un autre espace de connexion" in refused.text
    assert "user" not in session_of(client)
    assert client.get("/asp", follow_redirects=False).status_code == 303  # not logged in: back to the home page
    # The same realm lets a director in, and the academic realm an academic user but not a director
    assert login(client, "directrice", realm="fim").url.path == f"/etablissements/{UAI}"
    assert session_of(client)["user"]["realm"] == "fim"  # type: ignore[index]
    assert login(client, "academique", realm="academique").url.path.startswith("/academie")
    assert login(client, "directrice", realm="academique").status_code == 403


async def test_a_provider_answer_is_accepted_only_on_its_own_realms_callback(client: TestClient) -> None:
    to_provider = client.get("/connexion/fim", follow_redirects=False)
    with httpx2.Client() as browser:
        consent = browser.post(to_provider.headers["location"], data={"sub": "agent-asp"}, follow_redirects=False)
    answer = urlsplit(consent.headers["location"])
    assert answer.path == "/auth/callback/fim"
    # Replayed on the ASP realm's callback, where it would make an ASP agent: no state of that realm
    replayed = client.get(f"/auth/callback/asp?{answer.query}")
    assert replayed.status_code == 400
    assert "Connexion impossible" in replayed.text
    assert "user" not in session_of(client)


async def test_the_single_provider_default_still_grants_every_role(
        pool: object, database_url: str, namespace: str, oidc_issuer: str) -> None:
    with make_client(database_url, namespace, WebSettings(oidc_issuer=oidc_issuer)) as client:
        assert login(client, "agent-asp").url.path == "/asp"
        assert session_of(client)["user"]["realm"] == "default"  # type: ignore[index]
        assert login(client, "academique").url.path.startswith("/academie")
        assert login(client, "directrice").url.path == f"/etablissements/{UAI}"
        assert client.get("/connexion/default", follow_redirects=False).status_code == 302


async def test_a_college_enters_only_when_authorised_by_name(
        pool: object, database_url: str, namespace: str, providers: dict[str, str]) -> None:
    with make_client(database_url, namespace, realms_settings(providers)) as client:
        assert login(client, "principale-college", realm="fim").status_code == 403
    web = realms_settings(providers, authorised_colleges=frozenset({COLLEGE}))
    with make_client(database_url, namespace, web) as client:
        assert login(client, "principale-college", realm="fim").url.path == f"/etablissements/{COLLEGE}"
