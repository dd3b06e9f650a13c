"""The establishment's payments page (features.md §2 "Payments page: blocked, rejected and failed requests with
their reasons", M, API too): every PFMP of the school year whose latest request is Bloquée, Demande rejetée or
Paiement échoué, with its reasons in French and what to do, through HTTP (TestClient), the real OIDC provider and
the real database; the payment facts fed into pfmp's projection as its consumer would."""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator
from datetime import date

import asyncpg
import pytest
from aplypro_contracts import PaymentRequestBlocked, PaymentRequestHeld
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from starlette.testclient import TestClient

from .test_web_app import make_client
from .test_web_money import feed, moved, requested
from .test_web_other_roles import pfmp
from .web_world import Seeded, login, seed_student

pytestmark = pytest.mark.integration
PAGE = f"/etablissements/{UAI}/paiements?annee=2025"
API = f"/api/v1/etablissements/{UAI}/paiements?annee=2025"


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


async def blocked(pool: asyncpg.Pool, student: Seeded, *reasons: str) -> uuid.UUID:
    pfmp_id = await pfmp(pool, student, "validated", date(2026, 1, 5), date(2026, 1, 30))
    await feed(pool, PaymentRequestBlocked(producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=pfmp_id,
                                           student_id=student.student_id, reasons=reasons, parked=False, version=1))
    return pfmp_id


async def answered(pool: asyncpg.Pool, student: Seeded, state: str, *reasons: str) -> uuid.UUID:
    pfmp_id = await pfmp(pool, student, "validated", date(2026, 3, 2), date(2026, 3, 27))
    request_id = uuid.uuid4()
    await feed(pool, requested(student, str(pfmp_id), request_id, 45000),
               moved(student, str(pfmp_id), request_id, "sent", 1),
               moved(student, str(pfmp_id), request_id, state, 2, reasons))
    return pfmp_id


def row_of(text: str, pfmp_id: uuid.UUID) -> str:
    start = text.index(f'data-pfmp="{pfmp_id}"')
    return html.unescape(text[start:text.index("</tr>", start)])


async def test_staff_see_the_years_blocked_rejected_and_failed_requests_with_what_to_do(
        client: TestClient, pool: asyncpg.Pool) -> None:
    no_da = await seed_student(pool, UAI, last_name="SANSDA")
    rejected = await seed_student(pool, UAI, last_name="REJETE", class_label="1RE PRO")
    failed = await seed_student(pool, UAI, last_name="ECHOUE")
    paid = await seed_student(pool, UAI, last_name="PAYE")
    held = await seed_student(pool, UAI, last_name="RETENU")
    elsewhere = await seed_student(pool, OTHER_UAI, last_name="AILLEURS")
    no_da_pfmp = await blocked(pool, no_da, "missing_attributive_decision")
    rejected_pfmp = await answered(pool, rejected, "rejected", "anomaly_detected")
    failed_pfmp = await answered(pool, failed, "unpaid", "payment_difficulty")
    await answered(pool, paid, "paid")
    await blocked(pool, elsewhere, "missing_attributive_decision")
    held_pfmp = await answered(pool, held, "integrated")
    await feed(pool, PaymentRequestHeld(producer="asp-gateway", payment_request_id=uuid.uuid4(), pfmp_id=held_pfmp,
                                        student_id=held.student_id, reasons=("rib",), version=3))
    login(client, "personnel")
    # The dashboard's payments panel leads to the page
    assert f'href="https://testserver{PAGE}"' in client.get(f"/etablissements/{UAI}/tableau-de-bord?annee=2025").text
    page = client.get(PAGE)
    assert page.status_code == 200
    text = html.unescape(page.text)
    row = row_of(page.text, no_da_pfmp)
    assert "SANSDA Mehdi" in row
    assert "Bloquée" in row
    assert "La scolarité n'a pas de décision d'attribution (DA)." in row
    assert "À faire : Éditez la décision d'attribution." in row
    assert f'href="https://testserver/etablissements/{UAI}/eleves/{no_da.student_id}"' in page.text
    row = row_of(page.text, rejected_pfmp)
    assert "Demande rejetée" in row
    assert "1RE PRO" in row
    assert "450,00\u00a0€" in row
    assert "Le contrôle de l'ASP a trouvé une anomalie" in row
    assert "Paiement échoué" in row_of(page.text, failed_pfmp)
    assert "Suivez le courriel de l'ASP" in row_of(page.text, failed_pfmp)
    assert "Bloquée" in row_of(page.text, held_pfmp)  # held by the gateway after it was integrated
    assert "Les coordonnées bancaires sont invalides" in row_of(page.text, held_pfmp)
    assert "PAYE" not in text
    assert "AILLEURS" not in text
    assert "missing_attributive_decision" not in text.replace('data-reason="missing_attributive_decision"', "")
    # The JSON API answers the same requests
    api = client.get(API)
    assert api.status_code == 200
    by_pfmp = {item["pfmp_id"]: item for item in api.json()}
    assert set(by_pfmp) == {str(no_da_pfmp), str(rejected_pfmp), str(failed_pfmp), str(held_pfmp)}
    assert by_pfmp[str(no_da_pfmp)]["state"] == "incomplete"
    assert by_pfmp[str(no_da_pfmp)]["state_label"] == "Bloquée"
    assert by_pfmp[str(no_da_pfmp)]["reasons"] == [{
        "key": "missing_attributive_decision", "blocks": "La scolarité n'a pas de décision d'attribution (DA)",
        "todo": "Éditez la décision d'attribution"}]
    assert by_pfmp[str(rejected_pfmp)]["amount_cents"] == 45000


async def test_without_any_trouble_the_page_says_so(client: TestClient, pool: asyncpg.Pool) -> None:
    await answered(pool, await seed_student(pool, UAI, last_name="PAYE"), "paid")
    login(client, "personnel")
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "Aucune demande de paiement bloquée, rejetée ou en échec" in html.unescape(page.text)
    assert client.get(API).json() == []


async def test_staff_of_another_school_get_404_and_others_403(
        pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    await blocked(pool, await seed_student(pool, UAI), "missing_attributive_decision")
    for sub, status in (("autre-ecole", 404), ("academique", 403), ("agent-asp", 403)):
        with make_client(database_url, namespace, oidc_issuer) as client:
            login(client, sub)
            assert client.get(PAGE).status_code == status, sub
            assert client.get(API).status_code == status, sub
