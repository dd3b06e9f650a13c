"""The academic calendar on the real PostgreSQL: `load-calendar` loads the shipped sample (or refuses a wrong
file, loading nothing), and an import then closes a past year's schooling on the last day of that academy's
school year in the calendar, not the fallback's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_calendar import SAMPLE, read_calendar_csv
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.reference import Establishment
from aplypro_students.entrypoints.cli import app
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.reference import load_calendar, load_establishments, load_mefs
from typer.testing import CliRunner

from .conftest import DATA, HEADER

pytestmark = pytest.mark.integration
REUNION_UAI = "0974001R"  # an establishment of La Réunion (academy 28)


async def _calendar(database_url: str) -> tuple[int, date | None]:
    """The rows loaded, and when Mayotte resumed in 2025."""
    schema = StudentsSettings().db_schema("students")
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return (int(await conn.fetchval("SELECT count(*) FROM school_calendar")),
                await conn.fetchval("SELECT classes_resume FROM school_calendar WHERE academy_code = '43' "
                                    "AND school_year = 2024"))
    finally:
        await conn.close()


def test_load_calendar_loads_the_sample_and_refuses_a_wrong_file_whole(cli: CliRunner, database_url: str,
                                                                       write_csv: Callable[..., Path]) -> None:
    loaded = cli.invoke(app, ["load-calendar"])  # no file: the sample shipped with the service
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout.splitlines()[-1]) == {"academies": 6, "school_years": 12}
    again = cli.invoke(app, ["load-calendar"])  # the same years again replace their rows
    assert (again.exit_code, asyncio.run(_calendar(database_url))) == (0, (12, date(2025, 8, 25)))
    # A wrong row refuses the whole file: Mayotte's good row, with other dates, is not loaded either.
    bad = write_csv("Description;Population;Date de début;Date de fin;Académies;Zones;annee_scolaire",
                    "Vacances d'Été;-;2025-07-05;2025-09-01;Mayotte;Mayotte;2024-2025",
                    "Vacances d'Été;-;2025-09-01;2025-07-05;Rennes;Zone B;2024-2025")
    refused = cli.invoke(app, ["load-calendar", str(bad)])
    assert refused.exit_code == 2
    assert "line 3, column end: end.before_start" in refused.stderr
    assert asyncio.run(_calendar(database_url)) == (12, date(2025, 8, 25))


@pytest.fixture
async def pool(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Pool]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    schema = StudentsSettings().db_schema("students")
    pool = await create_pool(database_url, schema, size=2)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_students"])
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, [Establishment(REUNION_UAI, "LP de Saint-Denis", "MENJ", "28")])
        for year in (2024, 2025):
            await load_mefs(conn, year, read_bcn_mefs_csv(DATA / "mefs.csv"))
    try:
        yield pool
    finally:
        await pool.close()


async def _import(pool: asyncpg.Pool, row: str, today: date, write_csv: Callable[..., Path]) -> None:
    parsed = read_students_csv(write_csv(HEADER, row), uai=REUNION_UAI)
    async with pool.acquire() as conn, conn.transaction():
        await import_students(conn, ImportStudents(REUNION_UAI, parsed.records), today=today, topic=STUDENTS_EVENTS)


@pytest.mark.parametrize(("calendar", "closed_on"), [(True, date(2025, 8, 17)), (False, date(2025, 8, 15))])
async def test_a_past_year_schooling_closes_on_the_last_day_of_the_academy_school_year(
        pool: asyncpg.Pool, write_csv: Callable[..., Path], calendar: bool, closed_on: date) -> None:
    if calendar:  # La Réunion resumes on 18 August 2025 in the sample; its fallback year ends on the 15th
        async with pool.acquire() as conn, conn.transaction():
            await load_calendar(conn, read_calendar_csv(SAMPLE))
    student = "000111223AB;HADDAD;Mehdi;2007-11-02;M;35238;99100;8 rue Pasteur;97400;97411;SAINT-DENIS;99100"
    await _import(pool, f"2024-2025;{student};1ERE PRO MELEC;2473121133;scolaire;2024-08-19;",
                  date(2025, 3, 1), write_csv)
    # The next school year's class, from its first day: the 2024 schooling, still open, closes (§5.5).
    await _import(pool, f"2025-2026;{student};TLE PRO MELEC;2473121133;scolaire;2025-08-25;",
                  date(2025, 10, 15), write_csv)
    rows = await pool.fetch("SELECT c.school_year, s.end_date, s.end_date_inferred FROM schoolings s "
                            "JOIN classes c USING (class_id) ORDER BY c.school_year")
    assert [tuple(r) for r in rows] == [(2024, closed_on, False), (2025, None, False)]
