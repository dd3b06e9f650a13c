"""The confirmed director's DA commands through HTTP (TestClient), the real OIDC provider process and the real
database: issue the missing DAs of a class or of the establishment, reissue the year's DAs (after the
confirmation box), issue, reissue and abrogate one schooling's DA from the student page. Each goes to the
outbox as versioned events for documents, is audited, shows as asked at once, and is refused to staff (403),
to another school (404) and without the session's CSRF token."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date

import asyncpg
import pytest
from aplypro_contracts import DocumentReady, Establishment, Mef, SchoolingOpened
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import lifecycle_sql
from aplypro_pfmp.service_layer import facts, projection
from starlette.testclient import TestClient

from .test_web_app import make_client
from .test_web_money import TODAY, director_confirmed, published, student_url
from .web_world import Seeded, csrf_of, login, seed_student

pytestmark = pytest.mark.integration
CLASS = f"/etablissements/{UAI}/annees/2025/classes/TLE PRO"
MISSING = f"/etablissements/{UAI}/annees/2025/decisions/manquantes"
REISSUE = f"/etablissements/{UAI}/annees/2025/decisions/reedition"


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        client.app.state.today = lambda: TODAY  # type: ignore[attr-defined]
        yield client


async def hide(pool: asyncpg.Pool, student: Seeded) -> None:
    await pool.execute("INSERT INTO hidden_schoolings VALUES ($1, true, 1)", student.schooling_id)


async def decide(pool: asyncpg.Pool, student: Seeded, kind: str) -> None:
    async with pool.acquire() as conn:
        await lifecycle_sql.record_decision(conn, student.schooling_id, kind, 1)


async def keys_of(pool: asyncpg.Pool, event_type: str) -> list[str]:
    """The Kafka keys of the outbox's events of this type, in order."""
    keys = []
    for row in await pool.fetch("SELECT payloads, envelopes FROM outbox_batch ORDER BY id"):
        for payload, (_, key, _) in zip(row["payloads"], json.loads(row["envelopes"]), strict=True):
            if json.loads(payload)["event_type"] == event_type:
                keys.append(base64.b64decode(key).decode())
    return keys


async def actions(pool: asyncpg.Pool, action: str) -> list[tuple[str, str | None, int | None]]:
    return [(r["user_id"], r["class_label"], r["item_count"]) for r in await pool.fetch(
        "SELECT user_id, class_label, item_count FROM pfmp_actions WHERE action = $1 ORDER BY id", action)]


async def test_the_confirmed_director_issues_the_missing_das_of_a_class_then_of_the_establishment(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    await seed_student(pool, UAI, last_name="EDITEE")
    missing = await seed_student(pool, UAI, last_name="MANQUANTE", payable=False)
    hidden = await seed_student(pool, UAI, last_name="MASQUEE", payable=False)
    await hide(pool, hidden)
    elsewhere = await seed_student(pool, UAI, last_name="AUTRECLASSE", class_label="1RE PRO", payable=False)
    page = login(client, "directrice")
    page = client.get(CLASS)
    assert "1 décision(s) d'attribution manquante(s) (élèves masqués exclus)" in page.text
    assert "Éditer 1 décision(s) d'attribution manquante(s)" in page.text
    form = {"class_label": "TLE PRO", "statement": "yes"}
    # Staff of this school: 403; another school: 404 (on both establishments); a forged token: 403
    with make_client(database_url, namespace, oidc_issuer) as staff:
        staff_page = login(staff, "personnel")
        assert "Éditer 1 décision" not in staff.get(CLASS).text
        assert staff.post(MISSING, data={"csrf_token": csrf_of(staff_page), **form}).status_code == 403
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        for uai in (UAI, OTHER_UAI):
            assert other.post(f"/etablissements/{uai}/annees/2025/decisions/manquantes",
                              data={"csrf_token": token, **form}).status_code == 404
    assert client.post(MISSING, data={"csrf_token": "forged", **form}, follow_redirects=False).status_code == 403
    assert client.post(MISSING, data={"csrf_token": csrf_of(page), "class_label": "NO SUCH CLASS",
                                      "statement": "yes"}).status_code == 404
    # Without the statement: refused in French, nothing asked
    refused = client.post(MISSING, data={"csrf_token": csrf_of(page), "class_label": "TLE PRO"})
    assert "Cochez la déclaration du directeur confirmé" in refused.text
    assert await published(pool, "DecisionIssueRequested") == []

    done = client.post(MISSING, data={"csrf_token": csrf_of(page), **form})
    assert done.url.path == CLASS
    assert "Édition demandée pour 1 décision d&#39;attribution manquante(s)" in done.text
    assert "Édition demandée le " in done.text  # shown as asked before documents answers
    [event] = await published(pool, "DecisionIssueRequested")
    assert (event["schooling_id"], event["student_id"], event["mode"], event["requested_by"]) == (
        str(missing.schooling_id), str(missing.student_id), "missing", "directrice")
    assert await actions(pool, "issue_missing_decisions") == [("directrice", "TLE PRO", 1)]

    # The establishment's year: every class, hidden schoolings left out
    done = client.post(MISSING, data={"csrf_token": csrf_of(page)})
    assert done.url.path == f"/etablissements/{UAI}"
    assert "Édition demandée pour 2 décisions" in done.text
    events = await published(pool, "DecisionIssueRequested")
    assert {e["schooling_id"] for e in events[1:]} == {str(missing.schooling_id), str(elsewhere.schooling_id)}
    assert str(hidden.schooling_id) not in {e["schooling_id"] for e in events}

    # Documents issues them: nothing missing in the class any more, no button
    async with pool.acquire() as conn:
        for student in (missing, elsewhere):
            await facts.on_document(conn, DocumentReady(
                producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=student.schooling_id,
                student_id=student.student_id, number="D-1", version=1, storage_ref="x", sha256="0" * 64,
                size_bytes=1))
    page = client.get(CLASS)
    assert "0 décision(s) d'attribution manquante(s)" in page.text
    assert "Éditer 0" not in page.text
    refused = client.post(MISSING, data={"csrf_token": csrf_of(page), **form})
    assert "Aucune décision d&#39;attribution manquante" in refused.text
    assert len(await published(pool, "DecisionIssueRequested")) == 3


async def test_the_years_reissue_needs_its_confirmation_and_leaves_final_das_out(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    current = await seed_student(pool, UAI, last_name="EDITEE")
    hidden = await seed_student(pool, UAI, last_name="MASQUEE")
    await hide(pool, hidden)
    withdrawn = await seed_student(pool, UAI, last_name="RETIREE")
    await decide(pool, withdrawn, "retrait")
    abrogated = await seed_student(pool, UAI, last_name="ABROGEE", class_label="1RE PRO")
    await decide(pool, abrogated, "abrogation")
    await seed_student(pool, OTHER_UAI, last_name="AILLEURS")
    await director_confirmed(client, pool)
    page = client.get(f"/etablissements/{UAI}?annee=2025")
    assert "Rééditer les décisions d'attribution" in page.text
    with make_client(database_url, namespace, oidc_issuer) as staff:
        staff_page = login(staff, "personnel")
        assert "Rééditer les décisions" not in staff.get(f"/etablissements/{UAI}?annee=2025").text
        assert staff.post(REISSUE, data={"csrf_token": csrf_of(staff_page), "confirmation": "oui"}).status_code == 403
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        assert other.post(REISSUE, data={"csrf_token": token, "confirmation": "oui"}).status_code == 404
    # The confirmation box not ticked: nothing asked
    refused = client.post(REISSUE, data={"csrf_token": csrf_of(page)})
    assert "Cochez la case de confirmation pour continuer." in refused.text
    assert await published(pool, "DecisionIssueRequested") == []

    done = client.post(REISSUE, data={"csrf_token": csrf_of(page), "confirmation": "oui"})
    assert "Réédition demandée pour 2 décisions d&#39;attribution" in done.text
    assert "Réédition demandée le " in done.text
    events = await published(pool, "DecisionIssueRequested")
    assert sorted((e["schooling_id"], e["mode"]) for e in events) == sorted(
        [(str(current.schooling_id), "reissue"), (str(hidden.schooling_id), "reissue")])
    assert await keys_of(pool, "DecisionIssueRequested") == [e["student_id"] for e in events]  # keyed by student
    assert await actions(pool, "reissue_decisions") == [("directrice", None, 2)]


async def closed_in_year(pool: asyncpg.Pool, student: Seeded) -> uuid.UUID:
    """An earlier schooling of the student in the same year (closed on 19 December 2025), with its DA: the
    student's open schooling supersedes it, so its DA is abrogeable."""
    schooling_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_schooling_opened(conn, SchoolingOpened(
            producer="students", schooling_id=schooling_id, student_id=student.student_id,
            establishment=Establishment(uai=UAI, name="LP test"), class_label="TLE PRO ANCIENNE", school_year=2025,
            mef=Mef(code="2473121132", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ"),
            start_date=date(2025, 9, 1), end_date=date(2025, 12, 19), version=1))
        await lifecycle_sql.record_decision(conn, schooling_id, "attribution", 1)
    return schooling_id


async def test_from_the_student_page_the_director_issues_reissues_and_abrogates_one_da(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    student = await seed_student(pool, UAI)
    earlier = await closed_in_year(pool, student)
    await director_confirmed(client, pool)
    page = client.get(student_url(student))
    assert page.text.count("Abroger la décision") == 1  # the earlier schooling's only: the current one is open
    row = page.text[page.text.index(f'data-schooling="{earlier}"'):]
    assert "Abroger la décision" in row[:row.index("</tr>")]
    assert page.text.count("Rééditer la décision") == 2
    abrogation = f"{student_url(student)}/abrogation"
    form = {"schooling_id": str(earlier), "confirmation": "oui"}
    with make_client(database_url, namespace, oidc_issuer) as staff:
        staff_page = login(staff, "personnel")
        assert "Abroger la décision" not in staff.get(student_url(student)).text
        assert staff.post(abrogation, data={"csrf_token": csrf_of(staff_page), **form}).status_code == 403
    with make_client(database_url, namespace, oidc_issuer) as other:
        token = csrf_of(login(other, "autre-ecole"))
        for uai in (UAI, OTHER_UAI):
            assert other.post(f"/etablissements/{uai}/eleves/{student.student_id}/abrogation",
                              data={"csrf_token": token, **form}).status_code == 404
    stranger = await seed_student(pool, UAI, last_name="AUTRE")
    assert client.post(abrogation, data={"csrf_token": csrf_of(page), "schooling_id": str(stranger.schooling_id),
                                         "confirmation": "oui"}).status_code == 404
    # Without the confirmation box, or for the open schooling: refused, nothing asked
    refused = client.post(abrogation, data={"csrf_token": csrf_of(page), "schooling_id": str(earlier)})
    assert "Cochez la case de confirmation pour continuer." in refused.text
    refused = client.post(abrogation, data={"csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id),
                                            "confirmation": "oui"})
    assert "Seule la décision d&#39;une scolarité terminée" in refused.text
    assert await published(pool, "DecisionAbrogationRequested") == []

    done = client.post(abrogation, data={"csrf_token": csrf_of(page), **form})
    assert "L&#39;abrogation est demandée" in done.text
    assert "Abrogation demandée le " in done.text
    assert "Abroger la décision" not in done.text
    [event] = await published(pool, "DecisionAbrogationRequested")
    assert (event["schooling_id"], event["student_id"], event["requested_by"]) == (
        str(earlier), str(student.student_id), "directrice")
    again = client.post(abrogation, data={"csrf_token": csrf_of(page), **form})
    assert "L&#39;abrogation de cette décision est déjà demandée" in again.text
    assert len(await published(pool, "DecisionAbrogationRequested")) == 1
    assert [r["user_id"] for r in await pool.fetch(
        "SELECT user_id FROM pfmp_actions WHERE action = 'abrogate_decision' AND schooling_id = $1", earlier)] == [
        "directrice"]

    # One schooling's reissue, and a missing DA issued from the student page
    decision = f"{student_url(student)}/decision"
    done = client.post(decision, data={"csrf_token": csrf_of(page), "schooling_id": str(student.schooling_id),
                                       "mode": "reissue"})
    assert "La réédition est demandée" in done.text
    without = await seed_student(pool, UAI, last_name="SANSDA", payable=False)
    page = client.get(student_url(without))
    assert "Éditer la décision d&#39;attribution" in page.text
    done = client.post(f"{student_url(without)}/decision", data={
        "csrf_token": csrf_of(page), "schooling_id": str(without.schooling_id), "mode": "missing"})
    assert "L&#39;édition de la décision d&#39;attribution est demandée." in done.text
    assert "Édition demandée le " in done.text
    assert [(e["schooling_id"], e["mode"]) for e in await published(pool, "DecisionIssueRequested")] == [
        (str(student.schooling_id), "reissue"), (str(without.schooling_id), "missing")]
    with make_client(database_url, namespace, oidc_issuer) as staff:
        staff_page = login(staff, "personnel")
        assert staff.post(decision, data={"csrf_token": csrf_of(staff_page), "schooling_id": str(student.schooling_id),
                                          "mode": "reissue"}).status_code == 403


async def schooling_of(pool: asyncpg.Pool, student_id: uuid.UUID, uai: str, start: date, end: date | None, *,
                       class_label: str = "TLE PRO", da: bool = True) -> uuid.UUID:
    """Another schooling of the student in 2025 (with its DA unless `da` is false)."""
    schooling_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_schooling_opened(conn, SchoolingOpened(
            producer="students", schooling_id=schooling_id, student_id=student_id,
            establishment=Establishment(uai=uai, name="LP test"), class_label=class_label, school_year=2025,
            mef=Mef(code="2473121132", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ"),
            start_date=start, end_date=end, version=1))
        if da:
            await lifecycle_sql.record_decision(conn, schooling_id, "attribution", 1)
    return schooling_id


ABROGEABLE = f"/etablissements/{UAI}/decisions/abrogeables"


async def test_the_establishment_lists_its_das_due_for_abrogation_and_its_director_abrogates_from_the_list(
        client: TestClient, pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> None:
    """documents.md §5.2: a closed schooling with a DA, superseded by a more recent one of the same year (here or
    in another school), is listed; an open one, one the student simply left, an abrogated or withdrawn DA are
    not; another school's are not; staff see the list, the director abrogates from it."""
    moved = await seed_student(pool, UAI, last_name="CHANGECLASSE")
    earlier = await closed_in_year(pool, moved)  # superseded by the open schooling here
    left = await seed_student(pool, UAI, last_name="PARTI")
    transferred = await schooling_of(pool, left.student_id, OTHER_UAI, date(2026, 1, 5), None)
    await pool.execute("UPDATE schoolings SET end_date = '2025-12-19' WHERE schooling_id = $1", left.schooling_id)
    gone = await seed_student(pool, UAI, last_name="SORTI")  # closed, nothing more recent: not due
    await pool.execute("UPDATE schoolings SET end_date = '2025-12-19' WHERE schooling_id = $1", gone.schooling_id)
    for kind in ("abrogation", "retrait"):
        final = await seed_student(pool, UAI, last_name=f"FINALE{kind.upper()}")
        ended = await closed_in_year(pool, final)
        async with pool.acquire() as conn:
            await lifecycle_sql.record_decision(conn, ended, kind, 1)
    elsewhere = await seed_student(pool, OTHER_UAI, last_name="AILLEURS")  # another school's, due there
    theirs_due = await closed_in_year(pool, elsewhere)
    await pool.execute("UPDATE schoolings SET uai = $1 WHERE student_id = $2", OTHER_UAI, elsewhere.student_id)

    await director_confirmed(client, pool)
    assert "Décisions à abroger" in client.get(f"/etablissements/{UAI}").text
    page = client.get(ABROGEABLE)
    assert page.status_code == 200
    listed = set(re.findall(r'<tr data-schooling="([^"]+)"', page.text))
    assert listed == {str(earlier), str(left.schooling_id)}
    assert "Année scolaire 2025-2026" in page.text
    assert "AILLEURS" not in page.text
    assert page.text.count("Abroger la décision") == 2
    assert f'/etablissements/{UAI}/eleves/{moved.student_id}">CHANGECLASSE Mehdi</a>' in page.text  # its page

    # Staff of the school see the list without the action; another school's staff get 404; academic users 403
    with make_client(database_url, namespace, oidc_issuer) as staff:
        login(staff, "personnel")
        seen = staff.get(ABROGEABLE)
        assert set(re.findall(r'<tr data-schooling="([^"]+)"', seen.text)) == listed
        assert "Abroger la décision" not in seen.text
    with make_client(database_url, namespace, oidc_issuer) as other:
        login(other, "autre-ecole")
        assert other.get(ABROGEABLE).status_code == 404
        theirs = other.get(f"/etablissements/{OTHER_UAI}/decisions/abrogeables")
        assert set(re.findall(r'<tr data-schooling="([^"]+)"', theirs.text)) == {str(theirs_due)}
        assert str(transferred) not in theirs.text  # the open one, in that school, is not due
    with make_client(database_url, namespace, oidc_issuer) as academic:
        login(academic, "academique")
        assert academic.get(ABROGEABLE).status_code == 403

    done = client.post(f"/etablissements/{UAI}/eleves/{left.student_id}/abrogation", data={
        "csrf_token": csrf_of(page), "schooling_id": str(left.schooling_id), "confirmation": "oui",
        "retour": "liste"})
    assert done.url.path == ABROGEABLE
    assert "L&#39;abrogation est demandée" in done.text
    row = done.text[done.text.index(f'data-schooling="{left.schooling_id}"'):]
    assert "Abrogation demandée le " in row[:row.index("</tr>")]
    assert done.text.count("Abroger la décision") == 1
    [event] = await published(pool, "DecisionAbrogationRequested")
    assert (event["schooling_id"], event["student_id"]) == (str(left.schooling_id), str(left.student_id))
    # Once documents issued the abrogation, the DA leaves the list
    async with pool.acquire() as conn:
        await lifecycle_sql.record_decision(conn, left.schooling_id, "abrogation", 1)
    assert set(re.findall(r'<tr data-schooling="([^"]+)"', client.get(ABROGEABLE).text)) == {str(earlier)}


async def test_without_any_due_the_list_says_so(client: TestClient, pool: asyncpg.Pool) -> None:
    await seed_student(pool, UAI)
    login(client, "personnel")
    page = client.get(ABROGEABLE)
    assert "Aucune décision d'attribution n'est à abroger." in page.text
