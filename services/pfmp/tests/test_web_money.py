"""The student page's payments and the confirmed director's actions, through HTTP (TestClient), the real
OIDC provider process and the real database: amounts and every blocking reason in French (the events fed
into pfmp's projection as the consumer would), withdrawal with its confirmation step, report, relaunch and
rectification, each audited and each refused to staff (403) and to another school (404), CSRF on each form."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    AmountComputed,
    Establishment,
    Mef,
    PaymentRequestBlocked,
    PaymentRequested,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestStateChanged,
    SchoolingOpened,
)
from aplypro_contracts.reasons import REASONS
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.entrypoints.web.reason_words import BLOCKING, missing_words
from aplypro_pfmp.service_layer import facts, projection
from starlette.testclient import TestClient

from .test_web_app import add_pfmp_as, make_client
from .web_world import Seeded, csrf_of, login, seed_student

pytestmark = pytest.mark.integration
TODAY = date(2026, 12, 5)  # the app's clock in these tests (a Saturday: nothing depends on it but the report)
AT = datetime(2026, 2, 2, 8, 0, tzinfo=datetime.now().astimezone().tzinfo)


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        client.app.state.today = lambda: TODAY  # type: ignore[attr-defined]
        yield client


def student_url(student: Seeded) -> str:
    return f"/etablissements/{UAI}/eleves/{student.student_id}"


async def feed(pool: asyncpg.Pool, *events: Any) -> None:
    """The payment facts, as the `payment-facts` consumer applies them (one transaction)."""
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await facts.HANDLERS[event.event_type](conn, event)


async def published(pool: asyncpg.Pool, event_type: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT convert_from(p, 'UTF8') AS body FROM outbox_batch, unnest(payloads) AS p "
                            "ORDER BY id")
    return [b for b in (json.loads(r["body"]) for r in rows) if b["event_type"] == event_type]


async def audited(pool: asyncpg.Pool, action: str) -> list[str]:
    return [r["user_id"] for r in await pool.fetch("SELECT user_id FROM pfmp_actions WHERE action = $1", action)]


def requested(student: Seeded, pfmp_id: str, request_id: uuid.UUID, cents: int, version: int = 1) -> PaymentRequested:
    return PaymentRequested(producer="calculator", payment_request_id=request_id, pfmp_id=uuid.UUID(pfmp_id),
                            schooling_id=student.schooling_id, student_id=student.student_id, amount_cents=cents,
                            day_count=18, pfmp_rank=1, version=version, occurred_at=AT)


def moved(student: Seeded, pfmp_id: str, request_id: uuid.UUID, state: str, version: int,
          reasons: tuple[str, ...] = ()) -> PaymentRequestStateChanged:
    return PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=request_id,
                                      pfmp_id=uuid.UUID(pfmp_id), student_id=student.student_id, state=state,
                                      reasons=reasons, version=version, occurred_at=AT)


def test_every_shared_blocking_reason_has_french_words() -> None:
    assert missing_words() == set()
    for key, words in BLOCKING.items():
        assert words.blocks, key
        assert words.todo, key
        assert words.blocks != REASONS[key].blocks, key  # French, not the catalog's English


async def test_a_blocked_request_shows_the_amount_and_every_reason_in_french_with_what_to_do(
        client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    login(client, "personnel")
    first = add_pfmp_as(client, student.student_id, student.schooling_id)
    page = client.get(student_url(student))
    second = client.post(f"{student_url(student)}/pfmps", data={
        "csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id), "start_date": "2026-03-02",
        "end_date": "2026-03-13", "day_count": "10"})
    second_id = re.findall(r'data-pfmp="([0-9a-f-]+)"', second.text)[1]
    held_id, blocked_id = uuid.uuid4(), uuid.uuid4()
    # The calculator prices the first PFMP and requests it; the gateway holds it back for the RIB
    await feed(pool,
               AmountComputed(producer="calculator", pfmp_id=uuid.UUID(first), schooling_id=student.schooling_id,
                              student_id=student.student_id, school_year=2025, mef_code="2473121133", day_count=18,
                              amount_cents=45000, occurred_at=AT),
               requested(student, first, held_id, 45000),
               PaymentRequestHeld(producer="asp-gateway", payment_request_id=held_id, pfmp_id=uuid.UUID(first),
                                  student_id=student.student_id, reasons=("missing_rib", "adult_wrong_owner_type"),
                                  version=1, occurred_at=AT))
    # The calculator blocks the second on its own gates
    await feed(pool, PaymentRequestBlocked(
        producer="calculator", payment_request_id=blocked_id, pfmp_id=uuid.UUID(second_id),
        student_id=student.student_id, reasons=("pfmp_outside_schooling_dates", "needs_abrogated_attributive_decision"),
        parked=False, version=1, occurred_at=AT))
    page = client.get(student_url(student))
    assert page.status_code == 200
    held = page.text[page.text.index(f'data-request="{held_id}"'):page.text.index(f'data-request="{blocked_id}"')]
    assert "Bloquée" in held
    assert "450,00\u00a0€" in page.text
    assert "Aucune coordonnée bancaire pour l&#39;établissement de la PFMP." in held
    assert "À faire : Saisissez les coordonnées bancaires pour cet établissement." in held
    assert "ou un compte tiers avec un mandat signé" in held
    blocked = page.text[page.text.index(f'data-request="{blocked_id}"'):]
    assert "Bloquée" in blocked
    assert "La PFMP n&#39;est pas comprise dans les dates de la scolarité." in blocked
    assert "ou posez un report" in blocked
    assert "Abrogez la DA de la ou des scolarités antérieures" in blocked
    assert "missing_rib" not in page.text.replace('data-reason="missing_rib"', "")  # keys never shown as words
    # Once the gateway sends it, the reasons are gone and the request is "En traitement"
    await feed(pool, PaymentRequestSent(producer="asp-gateway", payment_request_id=held_id, pfmp_id=uuid.UUID(first),
                                        student_id=student.student_id, amount_cents=45000, file_name="f.xml",
                                        version=2, occurred_at=AT + timedelta(hours=1)))
    page = client.get(student_url(student))
    held = page.text[page.text.index(f'data-request="{held_id}"'):page.text.index(f'data-request="{blocked_id}"')]
    assert "En traitement" in held
    assert "Aucune coordonnée bancaire" not in held
    # A hold older than the state it left is dropped (the gateway's own sequence)
    await feed(pool, PaymentRequestHeld(producer="asp-gateway", payment_request_id=held_id, pfmp_id=uuid.UUID(first),
                                        student_id=student.student_id, reasons=("rib",), version=1, occurred_at=AT))
    assert "En traitement" in client.get(student_url(student)).text


async def director_confirmed(client: TestClient, pool: asyncpg.Pool) -> None:
    login(client, "directrice")
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO confirmed_directors (uai, user_id) VALUES ($1, 'directrice') "
                           "ON CONFLICT DO NOTHING", UAI)


async def test_the_confirmed_director_relaunches_a_rejected_request_once_and_it_is_audited(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    await director_confirmed(client, pool)
    pfmp_id = add_pfmp_as(client, student.student_id, student.schooling_id)
    request_id = uuid.uuid4()
    await feed(pool, requested(student, pfmp_id, request_id, 45000),
               moved(student, pfmp_id, request_id, "sent", 1), moved(student, pfmp_id, request_id, "rejected", 2,
                                                                      ("invalid_rib",)))
    page = client.get(student_url(student))
    assert "Demande rejetée" in page.text
    assert "Les coordonnées bancaires sont invalides." in page.text
    assert "Vérifiez puis ressaisissez les coordonnées bancaires, puis relancez" in page.text
    assert "Relancer le paiement" in page.text
    url = f"/etablissements/{UAI}/pfmps/{pfmp_id}/relance"
    form = {"payment_request_id": str(request_id), "reason": "bank_details_corrected"}
    # Staff may not relaunch; another school does not see the PFMP
    with make_client(database_url, namespace, oidc_issuer) as staff:
        token = csrf_of(login(staff, "personnel"))
        assert staff.post(url, data={"csrf_token": token, **form}).status_code == 403
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        for uai in (UAI, OTHER_UAI):
            assert other.post(f"/etablissements/{uai}/pfmps/{pfmp_id}/relance",
                              data={"csrf_token": token, **form}).status_code == 404
    assert await published(pool, "PaymentRetryRequested") == []
    done = client.post(url, data={"csrf_token": csrf_of(page), **form})
    assert "La demande est relancée" in done.text
    [event] = await published(pool, "PaymentRetryRequested")
    assert (event["pfmp_id"], event["payment_request_id"], event["requested_by"], event["reason"]) == (
        pfmp_id, str(request_id), "directrice", "bank_details_corrected")
    assert await audited(pool, "relaunch") == ["directrice"]
    assert "Relancer le paiement" not in done.text  # asked: the new request comes from the calculator
    # A second click: refused in French, nothing more published
    again = client.post(url, data={"csrf_token": csrf_of(page), **form})
    assert "Cette demande est déjà relancée" in again.text
    assert len(await published(pool, "PaymentRetryRequested")) == 1


async def test_a_request_that_is_not_a_terminal_failure_is_not_relaunched(client: TestClient,
                                                                         pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    await director_confirmed(client, pool)
    pfmp_id = add_pfmp_as(client, student.student_id, student.schooling_id)
    request_id = uuid.uuid4()
    await feed(pool, requested(student, pfmp_id, request_id, 45000), moved(student, pfmp_id, request_id, "paid", 3))
    page = client.get(student_url(student))
    assert "Paiement envoyé" in page.text
    assert "Relancer le paiement" not in page.text
    refused = client.post(f"/etablissements/{UAI}/pfmps/{pfmp_id}/relance", data={
        "csrf_token": csrf_of(page), "payment_request_id": str(request_id), "reason": "bank_details_corrected"})
    assert "Seule une demande rejetée ou dont le paiement a échoué peut être relancée." in refused.text
    assert await published(pool, "PaymentRetryRequested") == []


async def test_withdrawing_a_da_goes_through_a_confirmation_step_and_is_audited(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    page = login(client, "directrice")
    page = client.get(student_url(student))
    assert "Éditée" in page.text
    assert "Retirer la décision…" in page.text
    url = f"{student_url(student)}/retrait"
    form = {"schooling_id": str(student.schooling_id), "reason": "never_attended"}
    # Without the confirmation box: back to the confirmation page, nothing asked
    step = client.post(url, data={"csrf_token": csrf_of(page), **form, "statement": "yes"}, follow_redirects=False)
    assert step.status_code == 303
    assert step.headers["location"].endswith(f"/retrait?scolarite={student.schooling_id}")
    confirm = client.get(step.headers["location"])
    assert "Cette action est définitive" in confirm.text
    assert "Je confirme le retrait de cette décision d'attribution." in confirm.text
    assert await published(pool, "DecisionWithdrawalRequested") == []
    # Staff of this school: 403; staff of another school: 404, on the page and the form
    with make_client(database_url, namespace, oidc_issuer) as staff:
        token = csrf_of(login(staff, "personnel"))
        assert staff.get(step.headers["location"]).status_code == 403
        assert staff.post(url, data={"csrf_token": token, **form, "confirmation": "oui",
                                     "statement": "yes"}).status_code == 403
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        for uai in (UAI, OTHER_UAI):
            other_url = f"/etablissements/{uai}/eleves/{student.student_id}/retrait"
            assert other.get(f"{other_url}?scolarite={student.schooling_id}").status_code == 404
            assert other.post(other_url, data={"csrf_token": token, **form, "confirmation": "oui",
                                               "statement": "yes"}).status_code == 404
    assert await published(pool, "DecisionWithdrawalRequested") == []
    # Confirmed: asked once, audited with the director's id, shown on the student page
    done = client.post(url, data={"csrf_token": csrf_of(confirm), **form, "confirmation": "oui", "statement": "yes"})
    assert "Le retrait est demandé" in done.text
    assert "retrait demandé" in done.text
    assert "Retirer la décision…" not in done.text
    [event] = await published(pool, "DecisionWithdrawalRequested")
    assert (event["schooling_id"], event["reason"], event["requested_by"]) == (
        str(student.schooling_id), "never_attended", "directrice")
    assert await audited(pool, "withdraw_decision") == ["directrice"]
    again = client.post(url, data={"csrf_token": csrf_of(confirm), **form, "confirmation": "oui"})
    assert "Le retrait de cette décision est déjà demandé" in again.text
    assert len(await published(pool, "DecisionWithdrawalRequested")) == 1


async def test_a_da_not_issued_cannot_be_withdrawn(client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI, payable=False)
    await director_confirmed(client, pool)
    page = client.get(student_url(student))
    assert "Manquante" in page.text
    refused = client.post(f"{student_url(student)}/retrait", data={
        "csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id), "reason": "never_attended",
        "confirmation": "oui"})
    assert "La scolarité n&#39;a pas de décision d&#39;attribution en vigueur" in refused.text
    assert await published(pool, "DecisionWithdrawalRequested") == []


async def closed_past_schooling(pool: asyncpg.Pool, student: Seeded) -> uuid.UUID:
    """A second schooling of the student, 2024-2025, closed, with its DA."""
    schooling_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_schooling_opened(conn, SchoolingOpened(
            producer="students", schooling_id=schooling_id, student_id=student.student_id,
            establishment=Establishment(uai=UAI, name="LP test"), class_label="1RE PRO", school_year=2024,
            mef=Mef(code="2473121132", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ"),
            start_date=date(2024, 9, 2), end_date=date(2025, 7, 4), version=1))
        await facts.on_document(conn, _da(schooling_id, student))
    return schooling_id


def _da(schooling_id: uuid.UUID, student: Seeded) -> Any:
    from aplypro_contracts import DocumentReady

    return DocumentReady(producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling_id,
                         student_id=student.student_id, number="D-1", version=1, storage_ref="x", sha256="0" * 64,
                         size_bytes=1)


async def test_the_confirmed_director_sets_changes_and_removes_a_report(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    schooling_id = await closed_past_schooling(pool, student)
    page = login(client, "directrice")
    page = client.get(student_url(student))
    assert "Poser un report" in page.text
    url = f"{student_url(student)}/report"
    # A report before the schooling's end: refused, in French
    refused = client.post(url, data={"csrf_token": csrf_of(page), "schooling_id": str(schooling_id),
                                     "extended_end_date": "2025-06-30", "statement": "yes"})
    assert "La date de report doit être postérieure à la date de fin de la scolarité." in refused.text
    with make_client(database_url, namespace, oidc_issuer) as staff:
        token = csrf_of(login(staff, "personnel"))
        assert staff.post(url, data={"csrf_token": token, "schooling_id": str(schooling_id),
                                     "extended_end_date": "2025-08-29", "statement": "yes"}).status_code == 403
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        assert other.post(url, data={"csrf_token": token, "schooling_id": str(schooling_id),
                                     "extended_end_date": "2025-08-29", "statement": "yes"}).status_code == 404
    # The schooling of another student slipped into the form: not found
    stranger = await seed_student(pool, UAI, last_name="AUTRE")
    assert client.post(url, data={"csrf_token": csrf_of(page), "schooling_id": str(stranger.schooling_id),
                                  "extended_end_date": "2025-08-29", "statement": "yes"}).status_code == 404
    set_page = client.post(url, data={"csrf_token": csrf_of(page), "schooling_id": str(schooling_id),
                                      "extended_end_date": "2025-08-29", "statement": "yes"})
    assert "Date de report : 29/08/2025" in set_page.text
    changed = client.post(url, data={"csrf_token": csrf_of(page), "schooling_id": str(schooling_id),
                                     "extended_end_date": "2025-08-31"})
    assert "Date de report : 31/08/2025" in changed.text
    removed = client.post(url, data={"csrf_token": csrf_of(page), "schooling_id": str(schooling_id), "remove": "yes"})
    assert "Le report est retiré." in removed.text
    assert [e["extended_end_date"] for e in await published(pool, "SchoolingExtended")] == [
        "2025-08-29", "2025-08-31", None]
    actions = [(r["action"], r["user_id"]) for r in await pool.fetch(
        "SELECT action, user_id FROM pfmp_actions WHERE schooling_id = $1 ORDER BY id", schooling_id)]
    assert actions == [("set_report", "directrice"), ("change_report", "directrice"), ("remove_report", "directrice")]


async def test_a_paid_pfmp_is_rectified_by_the_confirmed_director_only(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    page = login(client, "directrice")
    pfmp_id = add_pfmp_as(client, student.student_id, student.schooling_id)
    client.post(f"/etablissements/{UAI}/pfmps/{pfmp_id}/validation", data={
        "csrf_token": csrf_of(client.get(student_url(student))), "statement": "yes"})
    request_id = uuid.uuid4()
    await feed(pool, requested(student, pfmp_id, request_id, 45000), moved(student, pfmp_id, request_id, "sent", 1),
               moved(student, pfmp_id, request_id, "integrated", 2), moved(student, pfmp_id, request_id, "paid", 3))
    page = client.get(student_url(student))
    assert "Rectifier (gérer un indu)" in page.text
    edit = f"/etablissements/{UAI}/pfmps/{pfmp_id}/modification"
    form = {"start_date": "2026-01-05", "end_date": "2026-01-30", "day_count": "10"}
    with make_client(database_url, namespace, oidc_issuer) as staff:
        token = csrf_of(login(staff, "personnel"))
        assert "Rectifier (gérer un indu)" not in staff.get(student_url(student)).text
        assert staff.post(edit, data={"csrf_token": token, **form}).status_code == 403
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        assert other.post(edit, data={"csrf_token": token, **form}).status_code == 404
    done = client.post(edit, data={"csrf_token": csrf_of(page), **form})
    assert "La PFMP est modifiée." in done.text
    assert "Rectifiée" in done.text
    [event] = await published(pool, "PfmpRectified")
    assert (event["requested_by"], event["pfmp"]["day_count"]) == ("directrice", 10)
    assert await audited(pool, "rectify") == ["directrice"]


async def test_each_director_form_refuses_a_post_without_the_session_csrf_token(client: TestClient,
                                                                             pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    await director_confirmed(client, pool)
    pfmp_id = add_pfmp_as(client, student.student_id, student.schooling_id)
    request_id = uuid.uuid4()
    await feed(pool, requested(student, pfmp_id, request_id, 45000), moved(student, pfmp_id, request_id, "unpaid", 3))
    forms = {
        f"{student_url(student)}/retrait": {"schooling_id": str(student.schooling_id), "reason": "never_attended",
                                            "confirmation": "oui"},
        f"{student_url(student)}/report": {"schooling_id": str(student.schooling_id),
                                           "extended_end_date": "2026-08-29"},
        f"/etablissements/{UAI}/pfmps/{pfmp_id}/relance": {"payment_request_id": str(request_id),
                                                           "reason": "bank_details_corrected"},
    }
    for url, form in forms.items():
        for token in ({}, {"csrf_token": "forged"}):
            assert client.post(url, data={**form, **token}, follow_redirects=False).status_code == 403, url
    assert await published(pool, "PaymentRetryRequested") == []
    assert await published(pool, "DecisionWithdrawalRequested") == []
    assert await published(pool, "SchoolingExtended") == []
    assert await pool.fetchval("SELECT count(*) FROM pfmp_actions WHERE action <> 'record'") == 0


async def test_the_confirmed_director_retries_a_request_the_calculator_or_the_gateway_blocked_and_it_is_audited(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    await director_confirmed(client, pool)
    blocked_pfmp = add_pfmp_as(client, student.student_id, student.schooling_id)
    page = client.get(student_url(student))
    held_pfmp = re.findall(r'data-pfmp="([0-9a-f-]+)"', client.post(f"{student_url(student)}/pfmps", data={
        "csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id), "start_date": "2026-03-02",
        "end_date": "2026-03-13", "day_count": "10"}).text)[1]
    blocked_id, held_id = uuid.uuid4(), uuid.uuid4()
    await feed(pool, PaymentRequestBlocked(
        producer="calculator", payment_request_id=blocked_id, pfmp_id=uuid.UUID(blocked_pfmp),
        student_id=student.student_id, reasons=("missing_attributive_decision",), parked=False, version=1,
        occurred_at=AT),
        requested(student, held_pfmp, held_id, 20000),
        PaymentRequestHeld(producer="asp-gateway", payment_request_id=held_id, pfmp_id=uuid.UUID(held_pfmp),
                           student_id=student.student_id, reasons=("missing_rib",), version=1, occurred_at=AT))
    page = client.get(student_url(student))
    blocked = page.text[page.text.index(f'data-request="{blocked_id}"'):]
    blocked = blocked[:blocked.index("</td>")]
    assert "Bloquée" in blocked
    assert "Retenter" in blocked
    # The gateway's hold too: the gateway checks it again (a fix no event brings, e.g. a setting)
    held = page.text[page.text.index(f'data-request="{held_id}"'):]
    assert "Bloquée" in held[:held.index("</td>")]
    assert "Retenter" in held[:held.index("</td>")]
    url = f"/etablissements/{UAI}/pfmps/{blocked_pfmp}/retenter"
    form = {"payment_request_id": str(blocked_id)}
    # Staff may not retry; another school does not see the PFMP; a form without the session's token is refused
    with make_client(database_url, namespace, oidc_issuer) as staff:
        staff_page = login(staff, "personnel")
        assert "Retenter" not in staff.get(student_url(student)).text
        assert staff.post(url, data={"csrf_token": csrf_of(staff_page), **form}).status_code == 403
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        for uai in (UAI, OTHER_UAI):
            assert other.post(f"/etablissements/{uai}/pfmps/{blocked_pfmp}/retenter",
                              data={"csrf_token": token, **form}).status_code == 404
    assert client.post(url, data={"csrf_token": "forged", **form}, follow_redirects=False).status_code == 403
    assert await published(pool, "PaymentRetryRequested") == []

    done = client.post(url, data={"csrf_token": csrf_of(page), **form})
    assert "La demande va être évaluée de nouveau" in done.text
    [event] = await published(pool, "PaymentRetryRequested")
    assert (event["pfmp_id"], event["payment_request_id"], event["requested_by"], event["reason"]) == (
        blocked_pfmp, str(blocked_id), "directrice", "blocked_request_retried")
    assert await audited(pool, "retry_blocked") == ["directrice"]
    # The held request: the same event, which the gateway reads (the calculator ignores it: not blocked there)
    done = client.post(f"/etablissements/{UAI}/pfmps/{held_pfmp}/retenter",
                       data={"csrf_token": csrf_of(page), "payment_request_id": str(held_id)})
    assert "La demande va être évaluée de nouveau" in done.text
    assert [e["payment_request_id"] for e in await published(pool, "PaymentRetryRequested")] == [
        str(blocked_id), str(held_id)]
    # One no longer blocked: refused in French, nothing published
    await feed(pool, requested(student, blocked_pfmp, blocked_id, 45000, version=2))
    refused = client.post(url, data={"csrf_token": csrf_of(page), **form})
    assert "Seule une demande bloquée peut être retentée" in refused.text
    sent = PaymentRequestSent(producer="asp-gateway", payment_request_id=held_id, pfmp_id=uuid.UUID(held_pfmp),
                              student_id=student.student_id, amount_cents=20000, file_name="f.xml", version=2,
                              occurred_at=AT)
    await feed(pool, sent)
    refused = client.post(f"/etablissements/{UAI}/pfmps/{held_pfmp}/retenter",
                          data={"csrf_token": csrf_of(page), "payment_request_id": str(held_id)})
    assert "Seule une demande bloquée peut être retentée" in refused.text
    assert len(await published(pool, "PaymentRetryRequested")) == 2
    assert await audited(pool, "retry_blocked") == ["directrice", "directrice"]
