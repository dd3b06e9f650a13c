"""The students pages of the web application through HTTP (TestClient), the real OIDC provider, the real
database and a real students API process: RIB entry (one student, a class in bulk), student search, the
dashboard; each scoped to the user's establishment and behind the CSRF check."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aplypro_contracts import SchoolingHiddenChanged
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import lifecycle_sql
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.web.app import create_app
from aplypro_pfmp.entrypoints.web.settings import WebSettings
from aplypro_pfmp.service_layer import projection
from starlette.testclient import TestClient

from .students_api_world import StudentsApi, students_api
from .web_world import Seeded, csrf_of, login, seed_student

pytestmark = pytest.mark.integration
__all__ = ["students_api"]  # the module-scoped fixture, imported to be found
GOOD_IBAN, WRONG_IBAN = "FR76 3000 6000 0112 3456 7890 189", "FR76 3000 6000 0112 3456 7890 188"


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str,
           students_api: StudentsApi) -> Iterator[TestClient]:
    settings = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace, database_url=database_url)
    web = WebSettings(oidc_issuer=oidc_issuer, students_api_url=students_api.url,
                      students_api_token=students_api.token)
    with TestClient(create_app(settings, web), base_url="https://testserver") as client:
        yield client


async def enrolled(pool: asyncpg.Pool, api: StudentsApi, uai: str = UAI, *, last_name: str = "HADDAD",
                   class_label: str = "TLE PRO", payable: bool = False) -> Seeded:
    """A student known to both services (pfmp's projection and the students service's tables)."""
    student = await seed_student(pool, uai, last_name=last_name, class_label=class_label, payable=payable)
    await api.enrol(student, uai, class_label=class_label)
    return student


def rib_form(token: str, iban: str = GOOD_IBAN, suffix: str = "") -> dict[str, str]:
    return {"csrf_token": token, f"owner_type{suffix}": "personal", f"holder_name{suffix}": "HADDAD Mehdi",
            f"iban{suffix}": iban, f"bic{suffix}": "AGRIFRPP"}


async def test_a_wrong_iban_is_refused_with_its_message_then_a_right_one_is_shown_at_once(
        client: TestClient, pool: asyncpg.Pool, students_api: StudentsApi,
        capsys: pytest.CaptureFixture[str]) -> None:
    student = await enrolled(pool, students_api)
    login(client, "personnel")
    url = f"/etablissements/{UAI}/eleves/{student.student_id}/coordonnees-bancaires"
    page = client.get(url)
    assert page.status_code == 200
    assert "Aucunes coordonnées bancaires" in page.text
    # A typing mistake in the check digits: refused, said in French, the form kept for correction
    refused = client.post(url, data=rib_form(csrf_of(page), WRONG_IBAN))
    assert refused.status_code == 422
    assert "La clé de contrôle de l'IBAN est fausse" in html.unescape(refused.text)
    assert f'value="{WRONG_IBAN}"' in refused.text
    assert await students_api.fetch("SELECT * FROM ribs WHERE student_id = $1", student.student_id) == []
    # The right one: the page after the POST shows it at once, from the students service's answer
    accepted = client.post(url, data=rib_form(csrf_of(refused)))
    assert accepted.status_code == 200, accepted.text
    assert "Les coordonnées bancaires sont enregistrées." in accepted.text
    assert "FR76 •••• •••• •••• •••• •••• 189" in accepted.text
    assert "3000 6000" not in accepted.text  # shown masked only, the form empty again
    # Stored by the students service with who entered it, and RibOnFile on its way to pfmp
    stored = await students_api.fetch("SELECT recorded_by, archived_at FROM ribs WHERE student_id = $1",
                                      student.student_id)
    assert [(r["recorded_by"], r["archived_at"]) for r in stored] == [("personnel", None)]
    outbox = await students_api.fetch("SELECT payload FROM outbox WHERE key = $1", str(student.student_id).encode())
    kinds = {t for r in outbox for t in ("RibRecorded", "RibOnFile", "RibStatusChanged")
             if f'"{t}"'.encode() in bytes(r["payload"])}
    assert (len(outbox), kinds) == (3, {"RibRecorded", "RibOnFile", "RibStatusChanged"})
    assert "FR76 •••• •••• •••• •••• •••• 189" in client.get(url).text  # and read back on the next visit
    # Neither the IBAN nor the holder name reaches a URL or a log (the web's, the students API's)
    hrefs = " ".join(re.findall(r'(?:href|action|src)="([^"]+)"', accepted.text))
    logs = capsys.readouterr()
    for secret in ("30006000", "3000 6000", "HADDAD Mehdi"):
        assert secret not in hrefs
        assert secret not in logs.out + logs.err
        assert secret not in students_api.log.read_text()


async def test_bulk_rib_entry_is_all_or_nothing_with_each_refused_lines_reason(
        client: TestClient, pool: asyncpg.Pool, students_api: StudentsApi) -> None:
    label = f"CAP {uuid.uuid4().hex[:6]}"
    first = await enrolled(pool, students_api, last_name="ABADIE", class_label=label)
    second = await enrolled(pool, students_api, last_name="BERTIN", class_label=label)
    login(client, "personnel")
    url = f"/etablissements/{UAI}/annees/2025/classes/{label}/coordonnees-bancaires"
    page = client.get(url)
    assert page.status_code == 200
    assert "ABADIE" in page.text
    assert "BERTIN" in page.text
    # One good line, one with a short IBAN and a bad BIC: nothing recorded, the bad line says why
    form = {**rib_form(csrf_of(page), suffix=f"-{first.student_id}"),
            **rib_form(csrf_of(page), "FR76 3000", suffix=f"-{second.student_id}"), f"bic-{second.student_id}": "AG"}
    refused = client.post(url, data=form)
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert "Rien n'a été enregistré : 1 ligne(s) refusée(s)" in text
    row = text[text.index(f'data-student="{second.student_id}"'):]
    assert "L'IBAN n'a pas la longueur prévue pour son pays" in row
    assert "Le BIC compte 8 ou 11 lettres et chiffres" in row
    ids = [first.student_id, second.student_id]
    assert await students_api.fetch("SELECT * FROM ribs WHERE student_id = ANY($1::uuid[])", ids) == []
    # Corrected: both recorded at once, shown masked on their lines; an empty line is simply skipped
    form[f"iban-{second.student_id}"], form[f"bic-{second.student_id}"] = "DE89370400440532013000", "COBADEFFXXX"
    accepted = client.post(url, data=form)
    assert accepted.status_code == 200, accepted.text
    assert "2 coordonnée(s) bancaire(s) enregistrée(s)." in accepted.text
    assert "DE89 •••• •••• •••• •••0 00" in accepted.text
    rows = await students_api.fetch("SELECT recorded_by FROM ribs WHERE student_id = ANY($1::uuid[])", ids)
    assert [r["recorded_by"] for r in rows] == ["personnel", "personnel"]


async def test_staff_of_another_school_get_404_on_every_students_page(
        client: TestClient, pool: asyncpg.Pool, students_api: StudentsApi) -> None:
    student = await enrolled(pool, students_api)
    await seed_student(pool, OTHER_UAI, last_name="AUTRE")
    login(client, "autre-ecole")
    token = csrf_of(client.get(f"/etablissements/{OTHER_UAI}/recherche"))
    for uai in (UAI, OTHER_UAI):
        rib = f"/etablissements/{uai}/eleves/{student.student_id}/coordonnees-bancaires"
        assert client.get(rib).status_code == 404
        assert client.post(rib, data=rib_form(token)).status_code == 404
    bulk = f"/etablissements/{UAI}/annees/2025/classes/TLE PRO/coordonnees-bancaires"
    assert client.get(bulk).status_code == 404
    assert client.post(bulk, data=rib_form(token, suffix=f"-{student.student_id}")).status_code == 404
    # A student of school A slipped into the other school's class form: not on that page either
    other_bulk = f"/etablissements/{OTHER_UAI}/annees/2025/classes/TLE PRO/coordonnees-bancaires"
    assert client.post(other_bulk, data=rib_form(token, suffix=f"-{student.student_id}")).status_code == 404
    assert client.get(f"/etablissements/{UAI}/recherche").status_code == 404
    assert client.post(f"/etablissements/{UAI}/recherche", data={"csrf_token": token, "q": "haddad"}).status_code == 404
    assert client.get(f"/etablissements/{UAI}/tableau-de-bord").status_code == 404
    # Their own search does not find school A's student
    found = client.post(f"/etablissements/{OTHER_UAI}/recherche", data={"csrf_token": token, "q": "haddad"})
    assert "0 élève(s) trouvé(s)" in found.text
    assert await students_api.fetch("SELECT * FROM ribs WHERE student_id = $1", student.student_id) == []


@pytest.mark.parametrize("sub", ["academique", "agent-asp"])
async def test_academic_users_and_asp_agents_cannot_reach_the_students_pages(
        client: TestClient, pool: asyncpg.Pool, students_api: StudentsApi, sub: str) -> None:
    student = await enrolled(pool, students_api)
    login(client, sub)
    for path in (f"/etablissements/{UAI}/eleves/{student.student_id}/coordonnees-bancaires",
                 f"/etablissements/{UAI}/annees/2025/classes/TLE PRO/coordonnees-bancaires",
                 f"/etablissements/{UAI}/recherche", f"/etablissements/{UAI}/tableau-de-bord"):
        assert client.get(path).status_code == 403, path


async def test_the_new_forms_refuse_a_post_without_the_session_csrf_token(
        client: TestClient, pool: asyncpg.Pool, students_api: StudentsApi) -> None:
    student = await enrolled(pool, students_api)
    login(client, "personnel")
    for path in (f"/etablissements/{UAI}/eleves/{student.student_id}/coordonnees-bancaires",
                 f"/etablissements/{UAI}/annees/2025/classes/TLE PRO/coordonnees-bancaires",
                 f"/etablissements/{UAI}/recherche"):
        for token in ("", "forged"):
            form = {**rib_form(token), **rib_form(token, suffix=f"-{student.student_id}"), "q": "haddad"}
            assert client.post(path, data=form).status_code == 403, path
    assert await students_api.fetch("SELECT * FROM ribs WHERE student_id = $1", student.student_id) == []


async def test_search_ignores_accents_case_and_punctuation_and_pages_by_50(
        client: TestClient, pool: asyncpg.Pool) -> None:
    helene = await seed_student(pool, UAI, last_name="LEFÈVRE-D'ARC")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE students SET first_names = '{Hélène,Œdipe}' WHERE student_id = $1",
                           helene.student_id)
    for n in range(55):
        await seed_student(pool, UAI, last_name=f"DUPONT{n:02d}", payable=False)
    login(client, "personnel")
    token = csrf_of(client.get(f"/etablissements/{UAI}/recherche"))

    def search(q: str, page: int = 1) -> str:
        answer = client.post(f"/etablissements/{UAI}/recherche", data={"csrf_token": token, "q": q, "page": page})
        assert answer.status_code == 200
        return answer.text

    for query in ("lefevre darc", "LEFEVRE-D’ARC", "helene", "lefèvre oedipe", "d'arc hélène"):
        assert "1 élève(s) trouvé(s)" in search(query), query
        assert f"/eleves/{helene.student_id}" in search(query)
    assert "0 élève(s) trouvé(s)" in search("lefevre mehdi")
    first = search("dupont")
    assert "55 élève(s) trouvé(s), page 1 sur 2." in first
    assert first.count("DUPONT") == 50
    second = search("dupont", 2)
    assert "page 2 sur 2" in second
    assert second.count("DUPONT") == 5
    assert "DUPONT54" in second
    assert "DUPONT00" not in second


async def test_the_dashboard_counts_da_rib_pfmp_and_payments_of_the_year(
        client: TestClient, pool: asyncpg.Pool) -> None:
    label = "1ERE PRO"
    paid = await seed_student(pool, UAI, last_name="PAYE", class_label=label)  # DA and RIB
    await seed_student(pool, UAI, last_name="NOUVEAU", class_label=label, payable=False)
    await seed_student(pool, UAI, last_name="AUTRE", class_label="CAP 1", payable=True)
    async with pool.acquire() as conn:
        pfmp_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, rank) "
            "VALUES ($1, $2, $3, '2026-01-05', '2026-01-30', 18, 'validated', 1)", pfmp_id, paid.schooling_id,
            paid.student_id)
        await lifecycle_sql.gateway_state(conn, uuid.uuid4(), pfmp_id, 3, "paid", datetime(2026, 2, 10, tzinfo=UTC),
                                          event_type="PaymentRequestStateChanged")
    login(client, "directrice")
    page = client.get(f"/etablissements/{UAI}/tableau-de-bord?annee=2025")
    assert page.status_code == 200

    def count(key: str) -> str:
        found = re.search(rf'data-count="{re.escape(key)}">(\d+)<', page.text)
        assert found, key
        return found.group(1)

    assert (count("da"), count("da-missing")) == ("2", "1")
    assert (count("rib"), count("rib-missing")) == ("2", "1")
    assert (count("validated"), count("completed"), count("pending"), count("pfmps")) == ("1", "0", "0", "1")
    assert (count("Paiement envoyé"), count("Bloquée"), count("students-paid")) == ("1", "0", "1")
    # The classes with their counters: present, DA, RIB, PFMPs, paid
    row = page.text[page.text.index(f'data-class="{label}"'):]
    cells = re.findall(r"<td>([^<]*)</td>", row[:row.index("</tr>")])
    assert cells == ["2", "0", "1", "1", "0", "1", "1"]


async def test_staff_hide_a_student_who_never_came_then_reintegrate_them(
        client: TestClient, pool: asyncpg.Pool, students_api: StudentsApi) -> None:
    label = f"2NDE {uuid.uuid4().hex[:6]}"
    student = await enrolled(pool, students_api, last_name="ABSENT", class_label=label)
    await enrolled(pool, students_api, last_name="PRESENT", class_label=label)
    login(client, "personnel")
    page = client.get(f"/etablissements/{UAI}/annees/2025/classes/{label}/masquage")
    assert page.status_code == 200
    url = f"/etablissements/{UAI}/scolarites/{student.schooling_id}/masquage"
    # Hidden through the students service; the next page shows it at once
    hidden = client.post(url, data={"csrf_token": csrf_of(page), "hidden": "1"})
    assert hidden.status_code == 200
    assert "L'élève est masqué de la classe." in html.unescape(hidden.text)
    row = hidden.text[hidden.text.index(f'data-schooling="{student.schooling_id}"'):]
    assert "Masqué(e) manuellement de la classe" in row[:row.index("</tr>")]
    stored = await students_api.fetch("SELECT hidden_at IS NOT NULL AS hidden, hidden_by FROM schoolings "
                                      "WHERE schooling_id = $1", student.schooling_id)
    assert [(r["hidden"], r["hidden_by"]) for r in stored] == [(True, "personnel")]
    # The dashboard's counters leave it out of the present students
    board = client.get(f"/etablissements/{UAI}/tableau-de-bord?annee=2025")
    cells = re.findall(r"<td>([^<]*)</td>", board.text[board.text.index(f'data-class="{label}"'):].split("</tr>")[0])
    assert cells[:2] == ["1", "0"]  # present, left (the hidden one in its own column)
    # Reintegrated: back in the class
    back = client.post(url, data={"csrf_token": csrf_of(hidden), "hidden": "0"})
    assert "L'élève est réintégré dans la classe." in html.unescape(back.text)
    row = back.text[back.text.index(f'data-schooling="{student.schooling_id}"'):]
    assert "Présent(e)" in row[:row.index("</tr>")]
    async with pool.acquire() as conn:
        assert tuple((await conn.fetch("SELECT hidden, version FROM hidden_schoolings"))[0]) == (False, 2)
        # The students service's events arrive afterwards: the same versions change nothing, a newer one applies
        for version, flag in ((1, True), (2, False)):
            await projection.on_schooling_hidden_changed(conn, SchoolingHiddenChanged(
                producer="students", schooling_id=student.schooling_id, student_id=student.student_id,
                hidden=flag, version=version))
        assert tuple((await conn.fetch("SELECT hidden, version FROM hidden_schoolings"))[0]) == (False, 2)
        await projection.on_schooling_hidden_changed(conn, SchoolingHiddenChanged(
            producer="students", schooling_id=student.schooling_id, student_id=student.student_id, hidden=True,
            version=3))
        assert tuple((await conn.fetch("SELECT hidden, version FROM hidden_schoolings"))[0]) == (True, 3)


async def test_staff_of_another_school_cannot_hide_this_schools_student(
        client: TestClient, pool: asyncpg.Pool, students_api: StudentsApi) -> None:
    student = await enrolled(pool, students_api)
    await seed_student(pool, OTHER_UAI, last_name="AUTRE")
    login(client, "autre-ecole")
    token = csrf_of(client.get(f"/etablissements/{OTHER_UAI}/recherche"))
    for uai in (UAI, OTHER_UAI):
        refused = client.post(f"/etablissements/{uai}/scolarites/{student.schooling_id}/masquage",
                              data={"csrf_token": token, "hidden": "1"})
        assert refused.status_code == 404
    assert client.get(f"/etablissements/{UAI}/annees/2025/classes/TLE PRO/masquage").status_code == 404
    stored = await students_api.fetch("SELECT hidden_at FROM schoolings WHERE schooling_id = $1",
                                      student.schooling_id)
    assert [r["hidden_at"] for r in stored] == [None]
