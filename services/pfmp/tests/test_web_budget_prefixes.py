"""The fourth statistics table (features.md §4): per budget prefix (ENPU, ENPR, MASA, MER), from the MEF's
ministry and the establishment's contract type that pfmp projects from the students service's
EstablishmentRegistered (and SchoolingOpened's establishment copy); and the establishments table's name,
ministry, academy and Public / Privé. In the national zip, the weekly snapshot and the national page."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aplypro_contracts import EstablishmentRegistered
from aplypro_local.oidc import OTHER_UAI
from aplypro_local.school import UAI
from aplypro_pfmp.adapters import snapshots_sql
from aplypro_pfmp.domain.budget import budget_prefix, sector
from aplypro_pfmp.domain.indicator_export import COLUMNS
from aplypro_pfmp.service_layer import projection
from starlette.testclient import TestClient

from .test_web_other_roles import THIRD_UAI, client, pfmp  # noqa: F401  (fixtures)
from .web_world import Seeded, login, seed_student

SEA_UAI, ARMY_UAI = "0999004N", "0999005P"


def test_a_schooling_s_prefix_comes_from_the_mef_s_ministry_and_the_establishment_s_contract() -> None:
    assert budget_prefix("MENJ", "99") == "ENPU"
    assert budget_prefix("menj ", "30") == "ENPR"
    assert budget_prefix("MENJ", "21") == "AUTRE"  # MENJ_OTHER: not one of the four
    assert budget_prefix("MASA", "99") == budget_prefix("MASA", "60") == "MASA"
    assert budget_prefix("MER", "99") == "MER"
    assert budget_prefix("ARMEES", "99") == budget_prefix(None, None) == "AUTRE"
    assert (sector("99"), sector("30"), sector(None)) == ("Public", "Privé", "")


def registered(uai: str, name: str, ministry: str, contract: str, academy: str, at: datetime
               ) -> EstablishmentRegistered:
    return EstablishmentRegistered(producer="students", uai=uai, name=name, ministry=ministry, academy_code=academy,
                                   contract_type_code=contract, occurred_at=at)


@pytest.fixture
async def schools(pool: asyncpg.Pool) -> dict[str, Seeded]:
    """Five schoolings, one per prefix and one under none: the demo school public MENJ; the other school
    private under contract, known only through its directory event; a MASA, a MER and an Armées schooling."""
    public = await seed_student(pool, UAI, last_name="PUBLIC", academy="14")
    private = await seed_student(pool, OTHER_UAI, last_name="PRIVE", academy="14")
    farm = await seed_student(pool, THIRD_UAI, last_name="AGRI", academy="15", mef_ministry="MASA")
    sea = await seed_student(pool, SEA_UAI, last_name="MER", academy="15", mef_ministry="MER")
    army = await seed_student(pool, ARMY_UAI, last_name="ARMEE", academy="15", mef_ministry="ARMEES")
    async with pool.acquire() as conn:
        # The directory, loaded after the schoolings: its facts replace SchoolingOpened's copy (public, "LP test")
        await projection.on_establishment_registered(conn, registered(
            OTHER_UAI, 'Lycée "Saint; Joseph"', "MENJ", "30", "14", datetime(2099, 1, 1, tzinfo=UTC)))
        # An older directory event, replayed: it changes nothing
        await projection.on_establishment_registered(conn, registered(
            OTHER_UAI, "Ancien nom", "MENJ", "99", "14", datetime(2020, 1, 1, tzinfo=UTC)))
    await pfmp(pool, public, "validated", date(2026, 1, 5), date(2026, 1, 30), request_state="paid")
    await pfmp(pool, private, "validated", date(2026, 1, 5), date(2026, 1, 30), request_state="paid")
    return {"public": public, "private": private, "farm": farm, "sea": sea, "army": army}


def table(text: str) -> dict[str, list[str]]:
    """Rows of a CSV by their first cell."""
    return {line.split(";")[0]: line.split(";") for line in text.splitlines()}


@pytest.mark.integration
async def test_the_national_zip_holds_the_four_tables_with_budget_prefixes_and_establishment_columns(
        client: TestClient, schools: dict[str, Seeded]) -> None:  # noqa: F811
    login(client, "national")
    answer = client.get("/national/indicateurs.zip", params={"annee": 2025})
    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.namelist() == ["global.csv", "prefixes_budgetaires.csv", "academies.csv", "etablissements.csv"]
        raw = {name: archive.read(name) for name in archive.namelist()}
    for data in raw.values():
        assert not data.startswith(b"\xef\xbb\xbf")  # no BOM
        assert b'"' not in data  # no quoting
    prefixes = table(raw["prefixes_budgetaires.csv"].decode())
    schoolings = 1 + [c.key for c in COLUMNS].index("schoolings_count")
    paid_sum = 1 + [c.key for c in COLUMNS].index("payment_requests_paid_count")
    assert list(prefixes) == ["Préfixe budgétaire", "ENPU", "ENPR", "MASA", "MER", "AUTRE"]
    assert {k: v[schoolings] for k, v in prefixes.items() if k != "Préfixe budgétaire"} == {
        "ENPU": "1", "ENPR": "1", "MASA": "1", "MER": "1", "AUTRE": "1"}
    assert (prefixes["ENPU"][paid_sum], prefixes["ENPR"][paid_sum], prefixes["MASA"][paid_sum]) == ("1", "1", "0")
    ratio = 1 + [c.key for c in COLUMNS].index("ribs_ratio")
    assert prefixes["ENPU"][ratio] == "1,00"  # 2 decimals, decimal comma
    schools_csv = table(raw["etablissements.csv"].decode())
    assert schools_csv["UAI"][:6] == ["UAI", "Nom", "Ministère", "Académie", "Secteur", "Mt. annuel total"]
    assert schools_csv[UAI][:5] == [UAI, "LP test", "MENJ", "14", "Public"]
    # The directory's newer facts won over the schooling's copy and the replayed older event; the name's
    # separator and quotes cannot break the unquoted format
    assert schools_csv[OTHER_UAI][:5] == [OTHER_UAI, "Lycée 'Saint, Joseph'", "MENJ", "14", "Privé"]
    assert schools_csv[THIRD_UAI][4] == "Public"
    # The national page shows the same table
    page = client.get("/national", params={"annee": 2025})
    assert 'data-testid="budget-prefixes"' in page.text
    assert "<caption>Préfixes budgétaires 2025-2026</caption>" in page.text
    # And the JSON API the page's data comes from
    api = client.get("/api/v1/national/prefixes", params={"annee": 2025}).json()
    assert [(row["key"], row["counts"]["schoolings_count"]) for row in api["rows"]] == [
        ("ENPU", 1), ("ENPR", 1), ("MASA", 1), ("MER", 1), ("AUTRE", 1)]
    # Only the national admin: an academic user of academy 14 is refused
    client.cookies.clear()
    login(client, "academique")
    assert client.get("/national/indicateurs.zip", params={"annee": 2025}).status_code == 403
    assert client.get("/api/v1/national/prefixes").status_code == 403


@pytest.mark.integration
async def test_the_weekly_snapshot_keeps_the_budget_prefix_table(
        pool: asyncpg.Pool, schools: dict[str, Seeded]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        written = await snapshots_sql.take(conn, date(2026, 6, 6))
    assert written == {"national": 1, "budget": 5, "academy": 2, "uai": 5}
    async with pool.acquire() as conn:
        for prefix in ("ENPU", "ENPR", "MASA", "MER", "AUTRE"):
            counts = await snapshots_sql.one(conn, date(2026, 6, 6), 2025, "budget", prefix)
            assert counts is not None, prefix
            assert counts.schoolings_count == 1, prefix
        enpu = await snapshots_sql.one(conn, date(2026, 6, 6), 2025, "budget", "ENPU")
    assert enpu is not None
    assert enpu.payment_requests_paid_count == 1
