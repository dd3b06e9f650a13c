"""The life-cycle commands of `aplypro-pfmp` on the real PostgreSQL: output shapes, exit codes, all or
nothing for a class (issue 10)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import Establishment, Identity, Mef, RibOnFile, SchoolingOpened, StudentRegistered
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.cli import app
from aplypro_pfmp.service_layer import projection
from aplypro_servicekit.db import create_pool, migrate
from typer.testing import CliRunner, Result

pytestmark = pytest.mark.integration
UAI = "0999001K"
CLASS = ["--uai", UAI, "--school-year", "2025", "--class", "TLE PRO"]
NOVEMBER = ["--start", "2025-11-03", "--end", "2025-11-21"]
Cli = Callable[..., Awaitable[Result]]
INES = ("000111223AB", "000111224AB", "000111225AB")


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """Three students of the class TLE PRO and one of another class, each with a RIB for the school."""
    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("pfmp")
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
    mef = Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ")
    async with pool.acquire() as conn, conn.transaction():
        for ine, label in [*((ine, "TLE PRO") for ine in INES), ("000111226AB", "1ERE PRO")]:
            student_id = uuid.uuid4()
            await projection.on_student_registered(conn, StudentRegistered(
                producer="students", version=1, student_id=student_id,
                identity=Identity(ine=ine, last_name="NOM", first_names=("Prénom",), birth_date=date(2007, 1, 2))))
            await projection.on_schooling_opened(conn, SchoolingOpened(
                producer="students", schooling_id=uuid.uuid4(), student_id=student_id,
                establishment=Establishment(uai=UAI, name="LP test"), class_label=label, school_year=2025,
                mef=mef, start_date=date(2025, 9, 1), version=1))
            await projection.on_rib_status(conn, RibOnFile(
                producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
                owner_type="personal", version=1))
    yield pool
    await pool.close()


@pytest.fixture
def cli(database_url: str, namespace: str) -> Cli:
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}

    async def run(*args: str) -> Result:
        # The CLI runs its own event loop (asyncio.run): give it a thread of its own.
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)

    return run


async def test_one_pfmp_for_a_class_is_all_or_nothing_with_each_refused_student(
    pool: asyncpg.Pool, cli: Cli, tmp_path: Path,
) -> None:
    # One student already has a PFMP overlapping the class's dates.
    blocker = tmp_path / "one.csv"
    blocker.write_text(f"ine;uai;annee_scolaire;date_debut;date_fin;nb_jours\n{INES[1]};{UAI};2025-2026;"
                       "2025-11-17;2025-11-28;5\n", encoding="utf-8")
    assert (await cli("import-csv", str(blocker))).exit_code == 0
    refused = await cli("record-class", *CLASS, *NOVEMBER, "--user", "staff-7")
    assert refused.exit_code == 2
    blocked = await pool.fetchval("SELECT student_id FROM pfmps")
    assert f"student {blocked}: pfmp_overlaps:" in refused.stderr
    assert "nothing recorded: 1 of 3 students refused" in refused.stderr
    assert await pool.fetchval("SELECT count(*) FROM pfmps") == 1
    assert [tuple(r) for r in await pool.fetch("SELECT user_id, action FROM pfmp_actions")] == [("import-csv", "record")]
    # Deleted, the class's PFMP goes through for the three students of the class, not the other class.
    pfmp_id = await pool.fetchval("SELECT pfmp_id FROM pfmps")
    deleted = await cli("delete", str(pfmp_id), "--user", "staff-7")
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(deleted.stdout) == {"deleted": str(pfmp_id), "version": 2}
    done = await cli("record-class", *CLASS, *NOVEMBER, "--user", "staff-7")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"recorded": 3, "edited": 0, "unchanged": 0}
    assert await pool.fetchval("SELECT count(*) FROM pfmps WHERE NOT deleted AND status = 'pending'") == 3
    assert await pool.fetchval("SELECT count(*) FROM pfmp_actions WHERE action = 'record' AND user_id = 'staff-7'") == 3


async def test_staff_add_one_pfmp_to_a_schooling_audited_once_and_an_overlap_is_refused(
    pool: asyncpg.Pool, cli: Cli,
) -> None:
    schooling_id = await pool.fetchval(
        "SELECT schooling_id FROM schoolings WHERE class_label = '1ERE PRO'")
    added = await cli("add", str(schooling_id), *NOVEMBER, "--days", "12", "--user", "staff-7")
    assert added.exit_code == 0, added.output
    out = json.loads(added.stdout)
    assert (out["outcome"], out["status"], out["version"]) == ("recorded", "completed", 1)
    again = await cli("add", str(schooling_id), *NOVEMBER, "--days", "12", "--user", "staff-8")
    assert json.loads(again.stdout)["outcome"] == "unchanged"
    overlapping = await cli("add", str(schooling_id), "--start", "2025-11-21", "--end", "2025-11-28",
                            "--user", "staff-7")
    assert overlapping.exit_code == 1
    assert "pfmp_overlaps:" in overlapping.stderr
    nobody = await cli("add", str(schooling_id), "--start", "2026-01-05", "--end", "2026-01-09", "--user", " ")
    assert nobody.exit_code == 1
    assert "missing_user:" in nobody.stderr
    unknown = await cli("add", str(uuid.uuid4()), "--start", "2026-01-05", "--end", "2026-01-09",
                        "--user", "staff-7")
    assert unknown.exit_code == 1
    assert "unknown_schooling:" in unknown.stderr
    assert await pool.fetchval("SELECT count(*) FROM pfmps") == 1
    assert [tuple(r) for r in await pool.fetch("SELECT user_id, action, pfmp_id FROM pfmp_actions")] == [
        ("staff-7", "record", uuid.UUID(out["pfmp_id"]))]


async def test_day_counts_of_a_class_are_entered_in_bulk_all_or_nothing(
    pool: asyncpg.Pool, cli: Cli, tmp_path: Path,
) -> None:
    assert (await cli("record-class", *CLASS, *NOVEMBER, "--user", "staff-7")).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(f"ine;nb_jours\n{INES[0]};12\n{INES[1]};40\n", encoding="utf-8")  # 40 > 19 calendar days
    refused = await cli("set-day-counts", str(bad), *CLASS, *NOVEMBER, "--user", "staff-7")
    assert refused.exit_code == 2
    assert "line 3: day_count_above_period:" in refused.stderr
    assert INES[1] not in refused.output  # never the INE
    assert await pool.fetchval("SELECT count(*) FROM pfmps WHERE day_count IS NOT NULL") == 0
    good = tmp_path / "good.csv"
    good.write_text(f"ine;nb_jours\n{INES[0]};12\n{INES[1]};10\n", encoding="utf-8")
    done = await cli("set-day-counts", str(good), *CLASS, *NOVEMBER, "--user", "staff-7")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"recorded": 0, "edited": 2, "unchanged": 0}
    assert sorted(r["day_count"] for r in await pool.fetch(
        "SELECT day_count FROM pfmps WHERE status = 'completed'")) == [10, 12]


async def test_validate_skips_and_reports_each_pfmp_without_da_and_exits_0(
    pool: asyncpg.Pool, cli: Cli, tmp_path: Path,
) -> None:
    """The measured gap: validation checked only that the PFMP had ended, so a PFMP without DA was paid."""
    rows = "".join(f"{ine};{UAI};2025-2026;2025-11-03;2025-11-21;12\n" for ine in INES[:2])
    file = tmp_path / "p.csv"
    file.write_text("ine;uai;annee_scolaire;date_debut;date_fin;nb_jours\n" + rows, encoding="utf-8")
    assert (await cli("import-csv", str(file))).exit_code == 0
    with_da = await pool.fetchval("SELECT schooling_id FROM pfmps ORDER BY created_seq LIMIT 1")
    await pool.execute("INSERT INTO decisions VALUES ($1, 'attribution', 1)", with_da)
    result = await cli("validate", "--uai", UAI)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"validated": 1, "skipped": {"missing_attributive_decision": 1}}
    skipped = await pool.fetchval("SELECT pfmp_id FROM pfmps WHERE status = 'completed'")
    assert f"pfmp {skipped}: missing_attributive_decision:" in result.stderr
    assert await pool.fetchval("SELECT schooling_id FROM pfmps WHERE status = 'validated'") == with_da


async def test_validate_pfmps_refuses_the_selection_with_each_reason_then_validates_it(
    pool: asyncpg.Pool, cli: Cli,
) -> None:
    assert (await cli("record-class", *CLASS, *NOVEMBER, "--days", "12", "--user", "staff-7")).exit_code == 0
    ids = [str(r["pfmp_id"]) for r in await pool.fetch("SELECT pfmp_id FROM pfmps ORDER BY pfmp_id")]
    await pool.execute("INSERT INTO decisions SELECT schooling_id, 'attribution', 1 FROM pfmps WHERE pfmp_id <> $1",
                       uuid.UUID(ids[0]))
    refused = await cli("validate-pfmps", *ids, "--user", "director-1")
    assert refused.exit_code == 2
    assert f"pfmp {ids[0]}: missing_attributive_decision:" in refused.stderr
    assert "nothing validated: 1 of 3 refused" in refused.stderr
    done = await cli("validate-pfmps", *ids[1:], "--user", "director-1")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"validated": 2}
    edited = await cli("edit", ids[1], "--days", "10", "--user", "staff-7")
    assert edited.exit_code == 0, edited.output
    assert json.loads(edited.stdout) == {"pfmp_id": ids[1], "status": "validated", "version": 3, "path": "plain"}
    cleared = await cli("edit", ids[1], "--clear-days", "--user", "staff-7")
    assert cleared.exit_code == 1
    assert cleared.stderr.startswith("pfmp_validated:")


async def test_validate_never_validates_a_pfmp_whose_schooling_has_no_da(
    pool: asyncpg.Pool, cli: Cli, tmp_path: Path,
) -> None:
    """Fails on the code before issue 10: `validate` validated it, and the calculator paid it."""
    file = tmp_path / "p.csv"
    file.write_text(f"ine;uai;annee_scolaire;date_debut;date_fin;nb_jours\n{INES[0]};{UAI};2025-2026;"
                    "2025-11-03;2025-11-21;12\n", encoding="utf-8")
    assert (await cli("import-csv", str(file))).exit_code == 0
    result = await cli("validate", "--uai", UAI)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["validated"] == 0
    assert await pool.fetchval("SELECT status FROM pfmps") == "completed"


async def test_validate_skips_a_pfmp_whose_student_has_no_rib_for_the_school(
    pool: asyncpg.Pool, cli: Cli, tmp_path: Path,
) -> None:
    """The RIB guard is on by default and reads the students' RibOnFile facts."""
    file = tmp_path / "p.csv"
    file.write_text(f"ine;uai;annee_scolaire;date_debut;date_fin;nb_jours\n{INES[0]};{UAI};2025-2026;"
                    "2025-11-03;2025-11-21;12\n", encoding="utf-8")
    assert (await cli("import-csv", str(file))).exit_code == 0
    await pool.execute("INSERT INTO decisions SELECT schooling_id, 'attribution', 1 FROM pfmps")
    await pool.execute("DELETE FROM ribs_on_file WHERE student_id = (SELECT student_id FROM pfmps)")
    result = await cli("validate", "--uai", UAI, "--user", "director-1")
    assert json.loads(result.stdout) == {"validated": 0, "skipped": {"missing_rib": 1}}
