"""Academic users' and the national admin's reports and JSON API (features.md §2 ACAD/ADMIN rows, §4 exports)
through HTTP (TestClient), the real OIDC provider process and the real database: the academy's establishments
table as CSV, the national view and its zip of CSVs, the academic JSON API; each route's scope checked (no
session, staff, ASP agent, another academy, an academic user who is not the admin). And the format of the CSVs
and the published OpenAPI document against the assembled application, without a database."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
import zipfile
from datetime import date
from fractions import Fraction
from pathlib import Path

import asyncpg
import pytest
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import invitations_sql
from aplypro_pfmp.domain.indicator_export import COLUMNS, UnsafeCsvValue, csv_text, ratio_text, zip_of
from aplypro_pfmp.domain.indicators import Counts
from aplypro_pfmp.entrypoints.web.api import openapi_document
from aplypro_pfmp.entrypoints.web.app import create_app
from aplypro_pfmp.entrypoints.web.settings import WebSettings
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from .test_web_app import all_routes, make_client
from .test_web_other_roles import THIRD_UAI, academy, cells, client, pfmp  # noqa: F401  (fixtures)
from .web_world import Seeded, login

ACADEMIC_GETS = ["/academie/14/indicateurs.csv", "/api/v1/academies/14/etablissements",
                 f"/api/v1/academies/14/etablissements/{UAI}",
                 f"/api/v1/academies/14/etablissements/{UAI}/annees/2025/classes/TLE PRO"]
NATIONAL_GETS = ["/national", "/national/indicateurs.zip", "/api/v1/national/academies", "/api/v1/national/prefixes"]


def lines_of(text: str) -> dict[str, list[str]]:
    """A `;` CSV by its first column."""
    return {line.split(";")[0]: line.split(";")[1:] for line in text.splitlines()}


def column(name: str) -> int:
    return [c.key for c in COLUMNS].index(name)


# --- formats, no database ---------------------------------------------------------------------------------

def test_the_csv_has_semicolons_decimal_commas_no_quotes_and_no_bom() -> None:
    counts = Counts(schoolings_count=3, attributive_decisions_count=2, students_count=0, ribs_count=1,
                    pfmps_validated_sum=123456, payment_requests_paid_sum=5)
    text = csv_text("UAI", [("0999001K", counts)])
    assert not text.startswith("\ufeff")
    assert '"' not in text
    header, row = text.splitlines()
    assert header.split(";")[:5] == ["UAI", "Mt. annuel total", "Nb. scolarités", "Nb. DA", "Part DA"]
    assert len(header.split(";")) == 1 + 26 + 3  # features.md §4: the 26 stored columns and 3 computed ones
    values = dict(zip(header.split(";"), row.split(";"), strict=True))
    assert values["Nb. scolarités"] == "3"
    assert values["Part DA"] == "0,67"  # 2/3, two decimals, a comma
    assert values["Part coord. bancaires"] == "Infini"  # a RIB over no student
    assert values["Part données élèves"] == "0,00"
    assert values["Part élèves payés"] == "0,00"  # nothing over nothing
    assert values["Mt. PFMPs validées"] == "1234,56"  # cents, exactly
    assert values["Mt. payé"] == "0,05"
    assert [ratio_text(Fraction(1, 200)), ratio_text(Fraction(1, 1))] == ["0,01", "1,00"]
    with pytest.raises(UnsafeCsvValue):
        csv_text("UAI", [("A;B", counts)])


def test_the_zip_is_the_same_bytes_for_the_same_data() -> None:
    files = [("global.csv", "a;b\n1;2\n")]
    assert zip_of(files) == zip_of(files)  # no clock inside: nothing depends on the day it runs
    with zipfile.ZipFile(io.BytesIO(zip_of(files))) as archive:
        assert archive.read("global.csv") == b"a;b\n1;2\n"


def test_the_published_openapi_document_is_the_assembled_application_s_json_api() -> None:
    app = create_app(web_settings=WebSettings(oidc_issuer="http://127.0.0.1:9"))  # no network until a login
    served = {route.path for route in all_routes(app.router.routes)
              if isinstance(route, APIRoute) and route.path.startswith("/api/")}
    published_text = (Path(__file__).resolve().parents[3] / "docs" / "web-api.openapi.json").read_text("utf-8")
    assert published_text == openapi_document(app), "run `uv run aplypro-pfmp openapi`"
    published = json.loads(published_text)
    assert set(published["paths"]) == served
    assert {"/api/v1/academies/{code}/etablissements", "/api/v1/national/academies"} <= served
    for path, methods in published["paths"].items():
        assert set(methods) == {"get"} or not path.startswith(("/api/v1/academies", "/api/v1/national")), path


# --- on the database, through the real OIDC provider -------------------------------------------------------

@pytest.mark.integration
async def test_an_academic_user_exports_the_academy_s_establishments_table(
        client: TestClient, academy: dict[str, Seeded]) -> None:  # noqa: F811
    page = login(client, "academique")
    assert "/academie/14/indicateurs.csv?annee=2025" in page.text
    # Part PFMPs validées and the extended PFMPs are among the columns shown
    assert cells(page.text, UAI)[16:18] == ["67 %", "0"]
    answer = client.get("/academie/14/indicateurs.csv", params={"annee": 2025})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="indicateurs-academie-14-2025-2026.csv"'
    assert not answer.content.startswith(b"\xef\xbb\xbf")
    rows = lines_of(answer.text)
    assert set(rows) == {"UAI", UAI, OTHER_UAI}  # the other academy's school is not in it
    assert list(rows)[1:] == [UAI, OTHER_UAI]  # ranked as the page: by amount paid
    assert rows[UAI][column("schoolings_count")] == "2"
    assert rows[UAI][column("attributive_decisions_ratio")] == "0,50"
    assert rows[UAI][column("pfmps_paid_count")] == "1"
    assert rows[UAI][column("pfmps_paid_payable_ratio")] == "0,50"
    assert rows[OTHER_UAI][column("pfmps_paid_payable_ratio")] == "0,00"
    for seeded in academy.values():
        assert seeded.last_name not in answer.text  # aggregates only
    # Scope: another academy is not found; the national view and export are the admin's
    assert client.get("/academie/15/indicateurs.csv").status_code == 404
    for path in NATIONAL_GETS:
        assert client.get(path).status_code == 403, path


@pytest.mark.integration
async def test_the_extended_pfmps_are_counted_from_the_schooling_s_report(
        client: TestClient, academy: dict[str, Seeded], pool: asyncpg.Pool) -> None:  # noqa: F811
    paid = academy["paid"]
    async with pool.acquire() as conn:
        await conn.execute("UPDATE schoolings SET end_date = $2 WHERE schooling_id = $1", paid.schooling_id,
                           date(2026, 2, 28))
        await conn.execute("INSERT INTO schooling_reports (schooling_id, student_id, extended_end_date, version) "
                           "VALUES ($1, $2, $3, 1)", paid.schooling_id, paid.student_id, date(2026, 6, 30))
        pfmp_id = await conn.fetchval("SELECT pfmp_id FROM pfmps WHERE schooling_id = $1 AND start_date = $2",
                                      paid.schooling_id, date(2026, 3, 2))
        await conn.execute("INSERT INTO pfmp_amounts (pfmp_id, amount_cents, computed_at) VALUES ($1, 30000, now())",
                           pfmp_id)
    login(client, "academique")
    rows = lines_of(client.get("/academie/14/indicateurs.csv").text)
    # Only the March PFMP ends after the schooling's end (28 February): one, 300 €
    assert rows[UAI][column("pfmps_extended_count")] == "1"
    assert rows[UAI][column("pfmps_extended_sum")] == "300,00"
    assert rows[OTHER_UAI][column("pfmps_extended_count")] == "0"


@pytest.mark.integration
async def test_the_academic_json_api_answers_what_the_pages_show_within_the_academy(
        client: TestClient, academy: dict[str, Seeded], pool: asyncpg.Pool) -> None:  # noqa: F811
    async with pool.acquire() as conn:  # the establishment's users as pfmp knows them
        await conn.execute("INSERT INTO confirmed_directors (uai, user_id, confirmed_at) "
                           "VALUES ($1, 'directrice', '2025-09-15 10:00+02')", UAI)
        await invitations_sql.invite(conn, UAI, "adjoint@ac-demo.fr", "directrice")
    for path in ACADEMIC_GETS[1:] + NATIONAL_GETS[2:]:
        assert client.get(path).status_code == 401, path  # no session
    login(client, "academique")
    table = client.get("/api/v1/academies/14/etablissements", params={"annee": 2025}).json()
    assert table["school_year"] == 2025
    assert [row["key"] for row in table["rows"]] == [UAI, OTHER_UAI]
    school = table["rows"][0]
    assert school["counts"]["schoolings_count"] == 2
    assert school["counts"]["pfmps_paid_count"] == 1
    assert school["ratios"]["attributive_decisions_ratio"] == 0.5
    assert school["ratios"]["pfmps_validated_ratio"] == 0.6667
    one = client.get(f"/api/v1/academies/14/etablissements/{UAI}").json()
    assert one["indicators"]["counts"] == school["counts"]
    assert one["classes"] == [{"label": "TLE PRO", "students": 2, "pfmps": 3}]
    assert one["director_confirmed_at"].startswith("2025-09-15T10:00:00")
    assert [i["email"] for i in one["invited_staff"]] == ["adjoint@ac-demo.fr"]
    page = client.get(f"/academie/14/etablissements/{UAI}").text
    assert "Directeur confirmé : oui, depuis le 15/09/2025" in page
    assert "adjoint@ac-demo.fr" in page
    assert "directrice" not in page  # the identity's id is not shown
    other = client.get(f"/api/v1/academies/14/etablissements/{OTHER_UAI}").json()
    assert (other["director_confirmed_at"], other["invited_staff"]) == (None, [])
    students = client.get(f"/api/v1/academies/14/etablissements/{UAI}/annees/2025/classes/TLE PRO").json()
    assert sorted(s["last_name"] for s in students) == ["ATTENTE", "PAYE"]
    paye = next(s for s in students if s["last_name"] == "PAYE")
    assert [(p["start_date"], p["status_label"]) for p in paye["pfmps"]] == [
        ("2026-01-05", "Validée"), ("2026-03-02", "Validée")]
    # Scope: another academy, its school through this academy, a class that does not exist
    assert client.get("/api/v1/academies/15/etablissements").status_code == 404
    assert client.get(f"/api/v1/academies/14/etablissements/{THIRD_UAI}").status_code == 404
    assert client.get(f"/api/v1/academies/15/etablissements/{THIRD_UAI}").status_code == 404
    assert client.get(f"/api/v1/academies/14/etablissements/{THIRD_UAI}/annees/2025/classes/TLE PRO"
                      ).status_code == 404
    assert client.get(f"/api/v1/academies/14/etablissements/{UAI}/annees/2025/classes/NOPE").status_code == 404
    assert client.get("/api/v1/national/academies").status_code == 403


@pytest.mark.integration
@pytest.mark.parametrize("sub", ["directrice", "agent-asp"])
async def test_staff_and_asp_agents_reach_no_academic_report_nor_api(
        client: TestClient, academy: dict[str, Seeded], sub: str) -> None:  # noqa: F811
    login(client, sub)
    for path in ACADEMIC_GETS + NATIONAL_GETS:
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "PAYE" not in answer.text


@pytest.mark.integration
async def test_the_national_admin_sees_every_academy_and_downloads_the_zip_of_csvs(
        client: TestClient, academy: dict[str, Seeded]) -> None:  # noqa: F811
    home = login(client, "national")
    assert home.url.path == "/academie"
    assert '/national"' in home.text
    page = client.get("/national", params={"annee": 2025})
    assert page.status_code == 200
    assert '/academie/14?annee=2025">14</a>' in page.text
    assert "/national/indicateurs.zip?annee=2025" in page.text
    answer = client.get("/national/indicateurs.zip", params={"annee": 2025})
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="indicateurs-2025-2026.zip"'
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.namelist() == ["global.csv", "prefixes_budgetaires.csv", "academies.csv", "etablissements.csv"]
        national = lines_of(archive.read("global.csv").decode())
        academies = lines_of(archive.read("academies.csv").decode())
        schools = lines_of(archive.read("etablissements.csv").decode())
    assert national["National"][column("schoolings_count")] == "4"
    assert national["National"][column("payment_requests_paid_count")] == "2"
    assert {k: v[column("schoolings_count")] for k, v in academies.items() if k != "Académie"} == {"14": "3", "15": "1"}
    assert set(schools) == {"UAI", UAI, OTHER_UAI, THIRD_UAI}
    api = client.get("/api/v1/national/academies", params={"annee": 2025}).json()
    assert [row["key"] for row in api["rows"]] == ["14", "15", "national"]
    assert api["rows"][-1]["counts"]["schoolings_count"] == 4
    # Every academy's pages, as a national admin; still no establishment page
    assert client.get("/academie/15").status_code == 200
    assert client.get(f"/api/v1/academies/15/etablissements/{THIRD_UAI}").status_code == 200
    assert client.get(f"/etablissements/{UAI}").status_code == 403
    assert client.get("/asp").status_code == 403


@pytest.mark.integration
async def test_the_academic_class_shows_only_this_establishment_s_pfmps(
        client: TestClient, academy: dict[str, Seeded], pool: asyncpg.Pool) -> None:  # noqa: F811
    """A student who moved to the academy-15 school: academy 14 does not see the PFMP there."""
    paid = academy["paid"]
    elsewhere = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO schoolings (schooling_id, student_id, uai, school_year, status, start_date, "
                           "class_label, academy_code) VALUES ($1, $2, $3, 2025, 'student', $4, 'TLE PRO', '15')",
                           elsewhere, paid.student_id, THIRD_UAI, date(2026, 4, 1))
    await pfmp(pool, Seeded(paid.student_id, elsewhere, paid.ine, paid.last_name), "pending",
               date(2026, 5, 4), date(2026, 5, 29))
    login(client, "academique")
    page = client.get(f"/academie/14/etablissements/{UAI}/annees/2025/classes/TLE PRO")
    assert "05/01/2026" in page.text
    assert "04/05/2026" not in page.text
    students = client.get(f"/api/v1/academies/14/etablissements/{UAI}/annees/2025/classes/TLE PRO").json()
    paye = next(s for s in students if s["last_name"] == "PAYE")
    assert [p["start_date"] for p in paye["pfmps"]] == ["2026-01-05", "2026-03-02"]


# --- weekly snapshots and the reports read from them -------------------------------------------------------

async def snapshot_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, namespace: str,
                       day: str) -> dict[str, object]:
    """`aplypro-pfmp snapshot-indicators --on day` on the test's schema (in a thread: it runs its own loop)."""
    from aplypro_pfmp.entrypoints.cli import app
    from typer.testing import CliRunner

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["snapshot-indicators", "--on", day])
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.output.strip().splitlines()[-1])
    return answer


@pytest.mark.integration
async def test_weekly_reports_show_each_indicator_s_change_and_the_admin_exports_the_evolution(
        client: TestClient, academy: dict[str, Seeded], pool: asyncpg.Pool,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, database_url: str, namespace: str) -> None:
    first = await snapshot_cli(monkeypatch, database_url, namespace, "2026-06-06")
    assert first == {"taken_on": "2026-06-06", "national": 1, "budget": 4, "academy": 2, "uai": 3}
    # A week later: one more PFMP, paid, at the other school of academy 14
    await pfmp(pool, academy["other"], "validated", date(2026, 4, 6), date(2026, 4, 24), request_state="paid")
    await snapshot_cli(monkeypatch, database_url, namespace, "2026-06-13")
    assert (await snapshot_cli(monkeypatch, database_url, namespace, "2026-06-13"))["uai"] == 3  # a rerun replaces
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM indicator_snapshots") == 20
    login(client, "academique")
    history = client.get("/academie/14/rapports", params={"annee": 2025})
    assert history.status_code == 200
    assert history.text.index("Rapport du 13/06/2026") < history.text.index("Rapport du 06/06/2026")
    report = client.get("/academie/14/rapports/2026-06-13", params={"annee": 2025})
    assert report.status_code == 200
    rows = dict((label, (value, change)) for label, value, change in re.findall(
        r'<tr><th scope="row">([^<]+)</th>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>', report.text))
    assert rows["Toutes PFMPs"] == ("4", "+1")
    assert rows["Dem. payées"] == ("2", "+1")
    assert rows["Nb. scolarités"] == ("3", "=")
    assert rows["Part élèves payés"] == ("67 %", "+33 pts")  # 1 of 3 students paid, then 2 of 3
    # Compared with a day that is not an earlier report: the previous report instead
    assert "+1" in client.get("/academie/14/rapports/2026-06-13",
                              params={"annee": 2025, "contre": "2026-01-01"}).text
    api = client.get("/api/v1/academies/14/rapports/2026-06-13", params={"annee": 2025}).json()
    assert (api["against"], api["indicators"]["counts"]["pfmps_count"], api["earlier"]["counts"]["pfmps_count"]) == (
        "2026-06-06", 4, 3)
    assert client.get("/api/v1/academies/14/rapports").json()["days"] == ["2026-06-13", "2026-06-06"]
    assert client.get("/api/v1/academies/15/rapports").status_code == 404
    assert client.get("/api/v1/academies/15/rapports/2026-06-13", params={"annee": 2025}).status_code == 404
    first_report = client.get("/academie/14/rapports/2026-06-06", params={"annee": 2025})
    assert "Premier rapport de l'année" in first_report.text
    # Scope: another academy's report, a day without a report; the evolution is the admin's
    assert client.get("/academie/15/rapports", params={"annee": 2025}).status_code == 404
    assert client.get("/academie/15/rapports/2026-06-13", params={"annee": 2025}).status_code == 404
    assert client.get("/academie/14/rapports/2026-06-20", params={"annee": 2025}).status_code == 404
    assert client.get("/national/evolution.csv").status_code == 403
    with make_client(database_url, namespace, client.app.state.web_settings.oidc_issuer) as admin:  # type: ignore[attr-defined]
        login(admin, "national")
        evolution = admin.get("/national/evolution.csv", params={"annee": 2025})
        assert evolution.headers["content-disposition"] == 'attachment; filename="evolution-2025-2026.csv"'
        lines = lines_of(evolution.text)
        assert list(lines) == ["Rapport", "2026-06-06", "2026-06-13"]
        assert [lines[day][column("pfmps_count")] for day in ("2026-06-06", "2026-06-13")] == ["4", "5"]
        assert admin.get("/academie/15/rapports/2026-06-13", params={"annee": 2025}).status_code == 200
    for sub in ("directrice", "agent-asp"):
        with make_client(database_url, namespace, client.app.state.web_settings.oidc_issuer) as other:  # type: ignore[attr-defined]
            login(other, sub)
            for path in ("/academie/14/rapports", "/academie/14/rapports/2026-06-13?annee=2025",
                         "/national/evolution.csv", "/api/v1/academies/14/rapports",
                         "/api/v1/academies/14/rapports/2026-06-13?annee=2025"):
                assert other.get(path).status_code == 403, (sub, path)
