"""Euro amounts on the dashboard, the academic indicators and the public /stats page, through HTTP (TestClient),
the real OIDC provider and the real database: the read models keep integer cents (pfmp_amounts from the
calculator's AmountComputed, payment_requests.amount_cents from its requests), the pages show French euros."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import pytest
from aplypro_contracts import (
    PaymentRequestStateChanged,
    SchoolingPriced,
    StudentIdentityChanged,
    StudentIneStatusChanged,
)
from aplypro_contracts.students import Address, Identity
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import lifecycle_sql, payments_sql
from aplypro_pfmp.entrypoints.web.money_view import euros
from aplypro_pfmp.service_layer import facts, projection
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
    # yearly caps (no barème seeded), validated, completed, pending (theoretical), paid, recovery, extended
    assert re.findall(r'<td class="amount">([^<]+)</td>', row[:row.index("</tr>")]) == [
        "0,00 €", "700,00 €", "80,00 €", "0,00 €", "200,00 €", "0,00 €", "0,00 €"]
    school = plain(client.get(f"/academie/14/etablissements/{OTHER_UAI}?annee=2025").text)
    assert re.findall(r'<td class="amount">([^<]+)</td>', school) == [
        "0,00 €", "1 234,56 €", "0,00 €", "0,00 €", "1 234,56 €", "0,00 €", "0,00 €"]


async def test_the_public_stats_show_the_total_paid_and_the_amounts_per_academy(
        client: TestClient, amounts: None) -> None:
    page = plain(client.get("/stats").text)
    assert re.search(r'data-testid="paid-sum">([^<]+)<', page).group(1) == "11 434,56 €"  # type: ignore[union-attr]
    rows = {key: re.findall(r'<td class="amount">([^<]+)</td>', rest) for key, rest in
            re.findall(r'<th scope="row">(\w+)</th>(.*?)</tr>', page, re.S)}
    assert rows == {"14": ["1 934,56 €", "1 434,56 €"], "15": ["10 000,00 €", "10 000,00 €"]}


def ready_identity(ine: str) -> Identity:
    """An identity ready for the ASP: sex, birthplace with its commune (born in France), address in France."""
    return Identity(ine=ine, last_name="PRETE", first_names=("Lina",), birth_date=date(2007, 11, 2), sex="female",
                    birth_country_insee="99100", birth_city_insee="35238",
                    address=Address(lines=("1 rue de la Gare",), postal_code="35000", city_insee="35238"))


async def gateway_paid(pool: asyncpg.Pool, seeded: Seeded, start: date, amount_cents: int, paid: Decimal, *,
                       recovery: bool, again: bool = False) -> None:
    """A validated PFMP whose request the ASP answered through the gateway's event: paid `paid` euros (MTNET),
    or, `recovery`, a recovery order claiming `paid` euros. `again`: the same event once more (a replay)."""
    if not again:
        await priced_pfmp(pool, seeded, "rectified" if recovery else "validated", start, amount_cents,
                          request_state="integrated", request_cents=amount_cents)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT r.pfmp_id, r.payment_request_id FROM payment_requests r JOIN pfmps p USING (pfmp_id) "
            "WHERE p.schooling_id = $1 AND p.start_date = $2", seeded.schooling_id, start)
        assert row is not None
        await facts.on_payment_state_changed(conn, PaymentRequestStateChanged(
            producer="asp-gateway", payment_request_id=row["payment_request_id"], pfmp_id=row["pfmp_id"],
            student_id=seeded.student_id,
            state="paid", paid_amount=paid, recovery=recovery, version=2))


async def test_the_indicators_sum_yearly_caps_pending_pfmps_net_payments_and_recoveries_from_events(
        client: TestClient, pool: asyncpg.Pool) -> None:
    """features.md §4: `yearly_sum` (the barème's caps), `students_data_count` / `_ratio` (identity ready, INE
    found), the theoretical `pfmps_incompleted_sum`, the ASP's net amount as `Mt. payé` and recovery orders
    apart as `Mt. OR`; each fed by the event pfmp consumes, through its handler, on the real database."""
    ready = await seed_student(pool, UAI, last_name="PRETE", academy="14")
    lost = await seed_student(pool, UAI, last_name="PERDU", academy="14")
    missing = await seed_student(pool, UAI, last_name="INCOMPLET", academy="14")  # the seed: no sex, no birthplace
    async with pool.acquire() as conn, conn.transaction():
        for seeded in (ready, lost):
            await projection.on_student_registered(conn, StudentIdentityChanged(  # the seed's registration was 1
                producer="students", version=2, changed=("sex",), student_id=seeded.student_id,
                identity=ready_identity(seeded.ine)))
        await projection.on_ine_status_changed(conn, StudentIneStatusChanged(
            producer="students", student_id=lost.student_id, ine_status="not_found", version=1))
        for seeded, rate, cap in ((ready, 1500, 60000), (lost, 1000, 30000), (missing, None, None)):
            await facts.on_schooling_priced(conn, SchoolingPriced(
                producer="calculator", schooling_id=seeded.schooling_id, student_id=seeded.student_id,
                school_year=2025, priced=rate is not None, daily_rate_cents=rate, yearly_cap_cents=cap))
    # Pending from 5 to 25 January: round(20 x 5/7) = 14 days x 15 € = 210 €; the unpriced one adds nothing
    await priced_pfmp(pool, ready, "pending", date(2026, 1, 5), 0)
    await priced_pfmp(pool, missing, "pending", date(2026, 1, 5), 0)
    # Paid 95,50 € net for a request of 100 €; a recovery order of 150 € on another PFMP
    await gateway_paid(pool, ready, date(2026, 2, 2), 10000, Decimal("95.50"), recovery=False)
    await gateway_paid(pool, lost, date(2026, 2, 2), 30000, Decimal("-150.00"), recovery=True)
    login(client, "academique")
    rows = {line.split(";")[0]: line.split(";")[1:] for line in client.get(
        "/academie/14/indicateurs.csv", params={"annee": 2025}).text.splitlines()}
    row = dict(zip(rows["UAI"], rows[UAI], strict=True))
    assert row["Mt. annuel total"] == "900,00"
    assert (row["Nb. données élèves"], row["Part données élèves"]) == ("1", "0,33")  # the INE not found fails
    assert (row["Nb. PFMPs incomplètes"], row["Mt. PFMPs incomplètes"]) == ("2", "210,00")
    assert (row["Dem. payées"], row["Mt. payé"], row["Mt. OR"]) == ("2", "95,50", "150,00")
    api = client.get("/api/v1/academies/14/etablissements", params={"annee": 2025}).json()["rows"][0]
    assert {k: api["counts"][k] for k in ("yearly_sum", "students_data_count", "pfmps_incompleted_sum",
                                          "payment_requests_paid_sum", "payment_requests_recovery_sum")} == {
        "yearly_sum": 90000, "students_data_count": 1, "pfmps_incompleted_sum": 21000,
        "payment_requests_paid_sum": 9550, "payment_requests_recovery_sum": 15000}
    assert api["ratios"]["students_data_ratio"] == 0.3333


async def test_the_dashboard_paid_amount_is_the_indicators_net_amount_without_recovery_orders(
        client: TestClient, pool: asyncpg.Pool) -> None:
    """features.md §4 `payment_requests_paid_sum` on the establishment dashboard, as on the academic pages: the
    net amount the ASP reported (95,50 € for a request of 100 €), a recovery order (150 € claimed on a request of
    300 €) left out, and a paid request the ASP gave no amount for counts its PFMP's (50 €)."""
    netted = await seed_student(pool, UAI, last_name="NET", academy="14")
    recovered = await seed_student(pool, UAI, last_name="REVERSE", academy="14")
    await gateway_paid(pool, netted, date(2026, 2, 2), 10000, Decimal("95.50"), recovery=False)
    await gateway_paid(pool, recovered, date(2026, 2, 2), 30000, Decimal("-150.00"), recovery=True)
    await priced_pfmp(pool, netted, "validated", date(2026, 3, 2), 5000, request_state="paid")
    login(client, "directrice")
    page = plain(client.get(f"/etablissements/{UAI}/tableau-de-bord?annee=2025").text)
    assert re.search(r'data-amount="paid">([^<]+)<', page).group(1) == "145,50 €"  # type: ignore[union-attr]
    login(client, "academique")
    rows = {line.split(";")[0]: line.split(";")[1:] for line in client.get(
        "/academie/14/indicateurs.csv", params={"annee": 2025}).text.splitlines()}
    assert dict(zip(rows["UAI"], rows[UAI], strict=True))["Mt. payé"] == "145,50"  # one definition, one figure


async def test_a_replay_of_the_gateways_event_fills_the_net_amount_projected_before_migration_0016(
        client: TestClient, pool: asyncpg.Pool) -> None:
    """A paid request projected before migration 0016 (no net amount kept) counts its own 100 €; the topic's
    replay of the same PaymentRequestStateChanged fills the ASP's 95,50 €, on the dashboard and the indicators."""
    netted = await seed_student(pool, UAI, last_name="NET", academy="14")
    await gateway_paid(pool, netted, date(2026, 2, 2), 10000, Decimal("95.50"), recovery=False)
    await pool.execute("UPDATE payment_requests SET paid_cents = NULL")  # as projected before 0016
    login(client, "directrice")
    dashboard = f"/etablissements/{UAI}/tableau-de-bord?annee=2025"
    assert re.search(r'data-amount="paid">([^<]+)<', plain(client.get(dashboard).text)).group(1) == (  # type: ignore[union-attr]
        "100,00 €")
    await gateway_paid(pool, netted, date(2026, 2, 2), 10000, Decimal("95.50"), recovery=False, again=True)
    assert re.search(r'data-amount="paid">([^<]+)<', plain(client.get(dashboard).text)).group(1) == (  # type: ignore[union-attr]
        "95,50 €")

