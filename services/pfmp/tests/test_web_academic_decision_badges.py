"""The academic class page's DA badge of each student in features.md §3's academic words: *Générée*, *Annulée*
(withdrawn or abrogated), *En cours de génération* (asked, not issued yet), *Non générée*; the same in the
academic JSON API. Through HTTP (TestClient), the real OIDC provider and the real database."""

from __future__ import annotations

import html
from collections.abc import Iterator

import asyncpg
import pytest
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import lifecycle_sql
from starlette.testclient import TestClient

from .test_web_app import make_client
from .web_world import login, seed_student

pytestmark = pytest.mark.integration
PAGE = f"/academie/14/etablissements/{UAI}/annees/2025/classes/TLE PRO"


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


async def test_each_student_shows_the_state_of_their_da_in_the_academic_words(
        client: TestClient, pool: asyncpg.Pool) -> None:
    issued = await seed_student(pool, UAI, last_name="GENEREE", academy="14")
    withdrawn = await seed_student(pool, UAI, last_name="ANNULEE", academy="14")
    asked = await seed_student(pool, UAI, last_name="ENCOURS", academy="14", payable=False)
    none = await seed_student(pool, UAI, last_name="AUCUNE", academy="14", payable=False)
    # Asked too, but the calculator found no barème for the schooling: documents will never print it.
    unpriced = await seed_student(pool, UAI, last_name="SANSBAREME", academy="14", payable=False)
    async with pool.acquire() as conn:
        await lifecycle_sql.record_decision(conn, withdrawn.schooling_id, "retrait", 1)
        for student in (asked, unpriced):
            await conn.execute("INSERT INTO pfmp_actions (user_id, action, schooling_id, uai, school_year) "
                               "VALUES ('directrice', 'issue_missing_decisions', $1, $2, 2025)",
                               student.schooling_id, UAI)
        await conn.execute("INSERT INTO schooling_prices (schooling_id, daily_rate_cents, yearly_cap_cents, priced_at) "
                           "VALUES ($1, NULL, NULL, now())", unpriced.schooling_id)
    login(client, "academique")
    page = client.get(PAGE)
    assert page.status_code == 200
    text = html.unescape(page.text)
    expected = {issued: "Générée", withdrawn: "Annulée", asked: "En cours de génération", none: "Non générée",
                unpriced: "Non générée"}
    for student, badge in expected.items():
        start = text.index(f'data-student="{student.student_id}"')
        assert f">{badge}<" in text[start:text.index("</tr>", start)], student.last_name
    api = client.get(f"/api/v1/academies/14/etablissements/{UAI}/annees/2025/classes/TLE PRO").json()
    assert {s["last_name"]: s["decision_label"] for s in api} == {s.last_name: b for s, b in expected.items()}
