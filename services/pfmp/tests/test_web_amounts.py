"""Euro amounts on the dashboard, the academic indicators and the public /stats page, through HTTP (TestClient),
the real OIDC provider and the real database: the read models keep integer cents (pfmp_amounts from the
calculator's AmountComputed, payment_requests.amount_cents from its requests), the pages show French euros."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import lifecycle_sql, payments_sql
from aplypro_pfmp.entrypoints.web.money_view import euros
from starlette.testclient import TestClient

from .test_web_app import make_client
from .web_world import Seeded, login, seed_student

pytestmark = pytest.mark.integration
THIRD_UAI = "0999003M"  # academy 15
AT = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def client(pool: asyncpg.Pool, database_url: str, namespace: str, oidc_issuer: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, oidc_issuer) as client:
        client.app.state.today = lambda: date(2026, 6, 30)  # type: ignore[attr-defined]  # the pages' clock
        yield client


async def priced_pfmp(pool: asyncpg.Pool, seeded: Seeded, status: str, start: date, amount_cents: int, *,
                      request_state: str | None = None, request_cents: int | None = None) -> None:
    """A PFMP with the calculator's amount, and its request in `request_state` carrying `request_cents`."""
    pfmp_id = uuid.uuid4()
    async with pool.acquire() as conn:
        rank = await conn.fetchval("SELECT count(*) + 1 FROM pfmps WHERE schooling_id = $1", seeded.schooling_id)
        await conn.execute("INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, "
                           "status, rank) VALUES ($1, $2, $3, $4, $5, 10, $6, $7)", pfmp_id, seeded.schooling_id,
                           seeded.student_id, start, start.replace(day=25), status, rank)
        await payments_sql.amount_computed(conn, pfmp_id, amount_cents, AT)
        if request_state is not None:
            request_id = uuid.uuid4()
            await lifecycle_sql.calculator_state(conn, request_id, pfmp_id, 1, "pending", AT, created=True,
                                                 event_type="PaymentRequested")
            if request_cents is not None:
                await payments_sql.requested(conn, request_id, request_cents)
            await lifecycle_sql.gateway_state(conn, request_id, pfmp_id, 1, request_state, AT,
                                              event_type="PaymentRequestStateChanged")


@pytest.fixture
async def amounts(pool: asyncpg.Pool) -> None:
    """Academy 14: the demo school, two paid PFMPs of 100 € (one request without its own amount: its PFMP's
    counts), one sent of 500 €, one completed of 80 €; the other school, one paid PFMP of 1 234,56 €.
    Academy 15: a third school, one paid PFMP of 10 000 €."""
    paid = await seed_student(pool, UAI, last_name="PAYE", academy="14")
    waiting = await seed_student(pool, UAI, last_name="ATTENTE", academy="14")
    other = await seed_student(pool, OTHER_UAI, last_name="AUTRE", academy="14")
    third = await seed_student(pool, THIRD_UAI, last_name="LOIN", academy="15")
    await priced_pfmp(pool, paid, "validated", date(2026, 1, 5), 10000, request_state="paid", request_cents=10000)
    await priced_pfmp(pool, paid, "validated", date(2026, 3, 2), 10000, request_state="paid")
    await priced_pfmp(pool, waiting, "validated", date(2026, 1, 5), 50000, request_state="sent", request_cents=50000)
    await priced_pfmp(pool, waiting, "completed", date(2026, 4, 6), 8000)
    await priced_pfmp(pool, other, "validated", date(2026, 1, 5), 123456, request_state="paid", request_cents=123456)
    await priced_pfmp(pool, third, "validated", date(2026, 1, 5), 1000000, request_state="paid",
                      request_cents=1000000)


def plain(text: str) -> str:
    """The page's text with the no-break spaces of the amounts as plain spaces."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_cents_show_as_french_euros() -> None:
    assert plain(euros(123456)) == "1 234,56 €"
    assert plain(euros(100000000)) == "1 000 000,00 €"
    assert euros(5) == "0,05\u00a0€"
    assert euros(None) == "—"


async def test_the_dashboard_shows_the_amounts_validated_and_paid(client: TestClient, amounts: None) -> None:
    login(client, "directrice")
    page = plain(client.get(f"/etablissements/{UAI}/tableau-de-bord?annee=2025").text)
    assert re.search(r'data-amount="validated">([^<]+)<', page).group(1) == "700,00 €"  # type: ignore[union-attr]
    assert re.search(r'data-amount="paid">([^<]+)<', page).group(1) == "200,00 €"  # type: ignore[union-attr]


async def test_the_academic_indicators_show_amounts_and_rank_by_amount_paid(
        client: TestClient, amounts: None) -> None:
    home = login(client, "academique")
    assert home.url.path == "/academie/14"
    page = plain(home.text)
    # Ranked by amount paid: the other school (1 234,56 €) before the demo school (2 PFMPs, 200 €)
    assert page.index(OTHER_UAI) < page.index(UAI)
    row = page[page.index(f">{UAI}</a>"):]
    assert re.findall(r'<td class="amount">([^<]+)</td>', row[:row.index("</tr>")]) == [
        "700,00 €", "80,00 €", "200,00 €", "0,00 €"]  # validated, completed, paid, extended PFMPs
    school = plain(client.get(f"/academie/14/etablissements/{OTHER_UAI}?annee=2025").text)
    assert re.findall(r'<td class="amount">([^<]+)</td>', school) == ["1 234,56 €", "0,00 €", "1 234,56 €", "0,00 €"]


async def test_the_public_stats_show_the_total_paid_and_the_amounts_per_academy(
        client: TestClient, amounts: None) -> None:
    page = plain(client.get("/stats").text)
    assert re.search(r'data-testid="paid-sum">([^<]+)<', page).group(1) == "11 434,56 €"  # type: ignore[union-attr]
    rows = {key: re.findall(r'<td class="amount">([^<]+)</td>', rest) for key, rest in
            re.findall(r'<th scope="row">(\w+)</th>(.*?)</tr>', page, re.S)}
    assert rows == {"14": ["1 934,56 €", "1 434,56 €"], "15": ["10 000,00 €", "10 000,00 €"]}
