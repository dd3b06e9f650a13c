"""Staff invitations through HTTP (TestClient), the real OIDC provider process and the real database: a
director invites an e-mail, whose identity (no role of its own) becomes authorised staff of the establishment
at its next login; revoked, it is refused at its next login. Directors only, checked on the server; CSRF; the
e-mail never in a URL or a log."""

from __future__ import annotations

import re
from collections.abc import Iterator

import asyncpg
import pytest
from aplypro_local.oidc import DEMO_ACCOUNTS, OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.domain.access import roles_from_claims
from aplypro_pfmp.domain.invitations import InvitationError, normalise_email
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from .test_web_app import make_client
from .web_world import csrf_of, login, seed_student

pytestmark = pytest.mark.integration
GUEST = str(DEMO_ACCOUNTS["sans-role"]["email"])  # an identity with no role of its own
STAFF = f"/etablissements/{UAI}/personnels"


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


@pytest.fixture
def guest(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


def test_an_invitation_makes_authorised_staff_and_never_a_director() -> None:
    assert normalise_email("  Prenom.Nom@AC-Exemple.fr ") == "prenom.nom@ac-exemple.fr"
    for wrong in ("", "nom", "nom@", "@ac.fr", "a b@ac.fr", "nom@ac", "x" * 250 + "@ac.fr"):
        with pytest.raises(InvitationError):
            normalise_email(wrong)
    roles = roles_from_claims({"email": GUEST}, invited=[UAI, "bad"])
    assert (roles.authorised_in, roles.director_of) == (frozenset({UAI}), frozenset())
    director = roles_from_claims(DEMO_ACCOUNTS["directrice"], invited=[UAI])
    assert (director.director_of, director.authorised_in) == (frozenset({UAI}), frozenset())


async def test_a_director_invites_staff_by_e_mail_then_revokes_them(
        client: TestClient, guest: TestClient, pool: asyncpg.Pool) -> None:
    await seed_student(pool, UAI)
    # Before the invitation: no role, refused
    assert login(guest, "sans-role").status_code == 403
    home = login(client, "directrice")
    assert "Personnels autorisés" in home.text
    page = client.get(STAFF)
    assert page.status_code == 200
    with capture_logs() as logs:
        refused = client.post(STAFF, data={"csrf_token": csrf_of(page), "email": "pas-une-adresse"})
        assert "Saisissez une adresse électronique valide" in refused.text
        invited = client.post(STAFF, data={"csrf_token": csrf_of(page), "email": f"  {GUEST.upper()} "})
        assert "L&#39;invitation est enregistrée" in invited.text
        assert GUEST in invited.text
        again = client.post(STAFF, data={"csrf_token": csrf_of(page), "email": GUEST})
        assert "Cette personne est déjà invitée" in again.text
    assert GUEST not in str(logs)
    assert [tuple(r) for r in await pool.fetch("SELECT uai, email, invited_by FROM staff_invitations")] == [
        (UAI, GUEST, "directrice")]

    # The invited identity logs in as authorised staff of the establishment: its pages, not a director's
    landed = login(guest, "sans-role")
    assert landed.status_code == 200
    assert landed.url.path == f"/etablissements/{UAI}"
    assert "Personnels autorisés" not in landed.text
    assert guest.get(STAFF).status_code == 403
    assert guest.post(STAFF, data={"csrf_token": csrf_of(landed), "email": "autre@ac-demo.fr"}).status_code == 403

    # Revoked (the invitation's id in the URL, never the e-mail): refused at the next login; audited
    invitation_id = re.search(r'data-invitation="([0-9a-f-]+)"', again.text).group(1)  # type: ignore[union-attr]
    revoked = client.post(f"{STAFF}/{invitation_id}/revocation", data={"csrf_token": csrf_of(again)})
    assert "L&#39;accès est retiré" in revoked.text
    assert GUEST not in revoked.text
    assert client.post(f"{STAFF}/{invitation_id}/revocation",
                       data={"csrf_token": csrf_of(again)}).status_code == 404  # already revoked
    assert [tuple(r) for r in await pool.fetch(
        "SELECT revoked_by, revoked_at IS NOT NULL FROM staff_invitations")] == [("directrice", True)]
    guest.cookies.clear()
    assert login(guest, "sans-role").status_code == 403


async def test_only_a_director_of_the_establishment_manages_its_staff(
        client: TestClient, guest: TestClient, pool: asyncpg.Pool) -> None:
    page = login(client, "directrice")
    client.post(STAFF, data={"csrf_token": csrf_of(page), "email": GUEST})
    invitation_id = await pool.fetchval("SELECT invitation_id FROM staff_invitations")
    # Authorised staff: 403; the director of another school: 404 (and nothing of theirs to revoke here)
    staff = login(guest, "personnel")
    assert guest.get(STAFF).status_code == 403
    assert guest.post(f"{STAFF}/{invitation_id}/revocation", data={"csrf_token": csrf_of(staff)}).status_code == 403
    guest.cookies.clear()
    other = login(guest, "autre-ecole")
    for uai in (UAI, OTHER_UAI):
        assert guest.post(f"/etablissements/{uai}/personnels/{invitation_id}/revocation",
                          data={"csrf_token": csrf_of(other)}).status_code == 404
    assert guest.get(STAFF).status_code == 404
    # No session token: refused
    assert client.post(STAFF, data={"email": "x@ac-demo.fr"}, follow_redirects=False).status_code == 403
    assert client.post(f"{STAFF}/{invitation_id}/revocation", data={"csrf_token": "forged"},
                       follow_redirects=False).status_code == 403
    assert await pool.fetchval("SELECT count(*) FROM staff_invitations WHERE revoked_at IS NULL") == 1
