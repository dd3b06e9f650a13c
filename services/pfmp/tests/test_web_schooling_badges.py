"""The student page's schooling and DA badges in features.md §3's words: *Masqué(e) manuellement de la classe*,
*Plafond atteint* (the schooling's PFMP amounts reach its yearly cap) and the DA badge *Reportée* (a DA in force
on a schooling with a report), through HTTP (TestClient), the real OIDC provider and the real database; the facts
written as pfmp's consumers write them."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import indicator_facts_sql, payments_sql
from starlette.testclient import TestClient

from .test_web_app import make_client
from .test_web_other_roles import pfmp
from .web_world import Seeded, login, seed_student

pytestmark = pytest.mark.integration
AT = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        yield client


def schoolings_of(client: TestClient, student: Seeded) -> str:
    """The student page's list of schoolings."""
    text = html.unescape(client.get(f"/etablissements/{UAI}/eleves/{student.student_id}").text)
    start = text.index("<h2>Scolarités</h2>")
    return text[start:text.index("</ul>", start)]


async def priced_and_paid(pool: asyncpg.Pool, student: Seeded, cap: int, *amounts: int) -> None:
    async with pool.acquire() as conn:
        await indicator_facts_sql.schooling_priced(conn, student.schooling_id, 1500, cap, AT)
        for month, cents in enumerate(amounts, start=1):
            pfmp_id = await pfmp(pool, student, "validated", date(2026, month, 5), date(2026, month, 20))
            await payments_sql.amount_computed(conn, pfmp_id, cents, AT)


async def test_a_schooling_whose_amounts_reach_the_yearly_cap_shows_plafond_atteint(
        client: TestClient, pool: asyncpg.Pool) -> None:
    capped = await seed_student(pool, UAI, last_name="PLAFOND")
    below = await seed_student(pool, UAI, last_name="SOUS")
    await priced_and_paid(pool, capped, 52500, 30000, 22500)
    await priced_and_paid(pool, below, 52500, 30000)
    login(client, "personnel")
    assert "Plafond atteint" in schoolings_of(client, capped)
    assert "Plafond atteint" not in schoolings_of(client, below)


async def test_a_hidden_schooling_shows_masque_manuellement(client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)
    login(client, "personnel")
    assert "Masqué(e) manuellement de la classe" not in schoolings_of(client, student)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO hidden_schoolings (schooling_id, hidden, version) VALUES ($1, true, 1)",
                           student.schooling_id)
    assert "Masqué(e) manuellement de la classe" in schoolings_of(client, student)


async def test_a_da_in_force_on_a_schooling_with_a_report_is_reportee(client: TestClient, pool: asyncpg.Pool) -> None:
    student = await seed_student(pool, UAI)  # its DA issued
    login(client, "personnel")
    page = html.unescape(client.get(f"/etablissements/{UAI}/eleves/{student.student_id}").text)
    assert ">Éditée<" in page
    async with pool.acquire() as conn:
        await conn.execute("UPDATE schoolings SET end_date = '2026-06-30' WHERE schooling_id = $1",
                           student.schooling_id)
        await conn.execute("INSERT INTO schooling_reports (schooling_id, student_id, extended_end_date, version) "
                           "VALUES ($1, $2, '2026-08-31', 1)", student.schooling_id, student.student_id)
    page = html.unescape(client.get(f"/etablissements/{UAI}/eleves/{student.student_id}").text)
    assert ">Reportée<" in page
    assert "Date de report : 31/08/2026" in page


async def test_a_student_who_left_shows_sorti_on_the_class_and_student_pages(
        client: TestClient, pool: asyncpg.Pool) -> None:
    left = await seed_student(pool, UAI, last_name="PARTI")
    present = await seed_student(pool, UAI, last_name="RESTE")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE schoolings SET end_date = '2025-11-14' WHERE schooling_id = $1", left.schooling_id)
    login(client, "personnel")
    assert "Sorti(e) de la classe le 14/11/2025" in schoolings_of(client, left)
    assert "Sorti(e)" not in schoolings_of(client, present)
    page = html.unescape(client.get(f"/etablissements/{UAI}/annees/2025/classes/TLE PRO").text)
    row = page[page.index("PARTI"):]
    assert "Sorti(e) de la classe" in row[:row.index("</tr>")]
    row = page[page.index("RESTE"):]
    assert "Sorti(e)" not in row[:row.index("</tr>")]
