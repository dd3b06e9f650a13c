"""Academic invitations through HTTP (TestClient), the real OIDC provider process and the real database: the
national admin invites an e-mail for an academy, whose identity (no role of its own) reads that academy, and only
that one, at its next login; revoked, it is refused at its next login. The national admin only, checked on the
server for every route; CSRF; never `*`; the e-mail never in a URL or a log."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import asyncpg
import httpx2
import pytest
from aplypro_local.oidc import DEMO_ACCOUNTS, OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.domain.access import NoRole, roles_from_claims
from aplypro_pfmp.domain.invitations import InvitationError, academy_code
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from .test_web_app import make_client
from .test_web_other_roles import THIRD_UAI
from .web_world import csrf_of, login, seed_student

pytestmark = pytest.mark.integration
GUEST = str(DEMO_ACCOUNTS["sans-role"]["email"])  # an identity with no role of its own
PAGE = "/national/academiques"


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


@pytest.fixture
def guest(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


@pytest.fixture
async def academies(pool: asyncpg.Pool) -> None:
    """Academy 14: the demo school and the other school; academy 15: a third school."""
    await seed_student(pool, UAI, academy="14")
    await seed_student(pool, OTHER_UAI, academy="14")
    await seed_student(pool, THIRD_UAI, academy="15")


def invitation_id(page: httpx2.Response) -> str:
    return re.search(r'data-invitation="([0-9a-f-]+)"', page.text).group(1)  # type: ignore[union-attr]


def test_an_academic_invitation_adds_an_academy_and_never_makes_a_national_admin() -> None:
    assert [academy_code(v) for v in ("14", " a11 ")] == ["14", "A11"]
    for wrong in ("", "*", "1", "ABCD", "1 4", "14;"):
        with pytest.raises(InvitationError):
            academy_code(wrong)
    invited = roles_from_claims({"email": GUEST}, invited_academies=["14"])
    assert (invited.academies, invited.admin, invited.establishments) == (frozenset({"14"}), False, frozenset())
    with pytest.raises(NoRole):  # `*` from an invitation is never a role
        roles_from_claims({"email": GUEST}, invited_academies=["*"])
    merged = roles_from_claims(DEMO_ACCOUNTS["academique"], invited_academies=["15"])
    assert merged.academies == frozenset({"14", "15"})


async def test_the_national_admin_invites_an_academic_user_then_revokes_them(
        client: TestClient, guest: TestClient, pool: asyncpg.Pool, academies: None) -> None:
    # Before the invitation: no role, refused
    assert login(guest, "sans-role").status_code == 403
    login(client, "national")
    assert 'href="https://testserver/national/academiques"' in client.get("/national").text
    page = client.get(PAGE)
    assert page.status_code == 200
    assert re.findall(r'<option value="(\w+)">', page.text) == ["14", "15"]
    token = csrf_of(page)
    with capture_logs() as logs:
        for email, academy, words in (("pas-une-adresse", "14", "Saisissez une adresse électronique valide"),
                                      (GUEST, "*", "Choisissez une académie dans la liste."),
                                      (GUEST, "99", "aucun établissement connu n&#39;est dans celle-ci")):
            refused = client.post(PAGE, data={"csrf_token": token, "email": email, "academy": academy})
            assert words in refused.text, academy
        invited = client.post(PAGE, data={"csrf_token": token, "email": f"  {GUEST.upper()} ", "academy": "14"})
        assert "la personne aura accès à l&#39;académie 14" in invited.text
        assert GUEST in invited.text
        again = client.post(PAGE, data={"csrf_token": token, "email": GUEST, "academy": "14"})
        assert "Cette personne est déjà invitée dans cette académie" in again.text
    assert GUEST not in str(logs)
    assert [tuple(r) for r in await pool.fetch("SELECT academy_code, email, invited_by FROM academic_invitations")] \
        == [("14", GUEST, "national")]

    # The invited identity reads academy 14, read-only, and nothing else
    landed = login(guest, "sans-role")
    assert landed.status_code == 200
    assert landed.url.path == "/academie/14"
    assert UAI in landed.text
    assert THIRD_UAI not in landed.text
    assert guest.get("/academie/15").status_code == 404
    assert guest.get(f"/academie/15/etablissements/{THIRD_UAI}").status_code == 404
    for path in ("/national", PAGE, f"/etablissements/{UAI}", "/asp"):
        assert guest.get(path).status_code == 403, path
    assert guest.post(PAGE, data={"csrf_token": csrf_of(landed), "email": "x@ac-demo.fr", "academy": "15"}
                      ).status_code == 403

    # Revoked (the invitation's id in the URL, never the e-mail): refused at the next login; audited
    revoked = client.post(f"{PAGE}/{invitation_id(again)}/revocation", data={"csrf_token": token})
    assert "L&#39;accès est retiré" in revoked.text
    assert GUEST not in revoked.text
    assert client.post(f"{PAGE}/{invitation_id(again)}/revocation", data={"csrf_token": token}).status_code == 404
    assert [tuple(r) for r in await pool.fetch(
        "SELECT revoked_by, revoked_at IS NOT NULL FROM academic_invitations")] == [("national", True)]
    guest.cookies.clear()
    assert login(guest, "sans-role").status_code == 403


async def test_an_academic_user_invited_to_another_academy_reads_both(
        client: TestClient, guest: TestClient, academies: None) -> None:
    token = csrf_of(login(client, "national"))
    client.post(PAGE, data={"csrf_token": token, "email": DEMO_ACCOUNTS["academique"]["email"], "academy": "15"})
    home = login(guest, "academique")
    assert home.url.path == "/academie"  # two academies: the list
    assert guest.get("/academie/14").status_code == 200
    assert THIRD_UAI in guest.get("/academie/15").text
    assert guest.get("/national").status_code == 403  # still not the national admin


@pytest.mark.parametrize("sub", ["academique", "directrice", "personnel", "agent-asp"])
async def test_only_the_national_admin_manages_academic_invitations(
        client: TestClient, guest: TestClient, pool: asyncpg.Pool, academies: None, sub: str) -> None:
    token = csrf_of(login(client, "national"))
    client.post(PAGE, data={"csrf_token": token, "email": GUEST, "academy": "14"})
    live = str(await pool.fetchval("SELECT invitation_id FROM academic_invitations"))
    other_token = csrf_of(login(guest, sub))
    assert guest.get(PAGE).status_code == 403
    assert guest.post(PAGE, data={"csrf_token": other_token, "email": "x@ac-demo.fr", "academy": "14"}
                      ).status_code == 403
    for target in (live, str(uuid.uuid4()), "not-an-id"):  # the role first: 403 even for a malformed id
        assert guest.post(f"{PAGE}/{target}/revocation", data={"csrf_token": other_token}).status_code == 403
    # The admin without the session's token: refused
    assert client.post(PAGE, data={"email": "x@ac-demo.fr", "academy": "14"}, follow_redirects=False
                       ).status_code == 403
    assert client.post(f"{PAGE}/{live}/revocation", data={"csrf_token": "forged"}, follow_redirects=False
                       ).status_code == 403
    assert [tuple(r) for r in await pool.fetch("SELECT email, revoked_at FROM academic_invitations")] == [
        (GUEST, None)]
