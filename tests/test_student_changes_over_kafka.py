"""A students import's corrections travel end to end as their own events, on the real broker and PostgreSQL: the
students service (its relay) publishes StudentIdentityChanged and SchoolingClosed, and the pfmp and calculator
consumers (their real runtimes) apply them as they applied StudentRegistered and SchoolingOpened: the closing's
end date and version, the renamed identity and its version."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.entrypoints.service import build_spec as calculator_spec
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_local.testing import read_topic
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.service import build_spec as pfmp_spec
from aplypro_servicekit.runtime import ServiceRuntime
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.adapters.csv_students import read_students_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.service import build_spec as students_spec
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.reference import load_establishments, load_mefs

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DATA = Path(__file__).parents[1] / "services" / "students" / "tests" / "data"
UAI = "0999001K"
HEADER = ("annee_scolaire;ine;nom;prenoms;date_naissance;sexe;commune_naissance_insee;pays_naissance_insee;"
          "adresse_ligne1;code_postal;commune_residence_insee;commune_residence;pays_residence_insee;classe;"
          "code_mef;statut;date_debut;date_fin")
ROW = ("2025-2026;000111223AB;HADDAD;Mehdi;2007-11-02;M;35238;99100;8 rue Pasteur;35000;35238;RENNES;99100;"
       "TLE PRO MELEC;2473121133;scolaire;2025-09-01;")
# renamed, and moved to another class from 6 October: the old schooling closes the day before
MOVED = ROW.replace("HADDAD", "HADDAD-NOUR").replace("TLE PRO MELEC;2473121133;scolaire;2025-09-01",
                                                     "1ERE PRO MELEC;2473121132;scolaire;2025-10-06")


async def until(pool: asyncpg.Pool, sql: str, expected: object, *args: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (value := await pool.fetchval(sql, *args)) != expected:
        assert time.monotonic() < deadline, f"{sql} gave {value!r}, not {expected!r}"
        await asyncio.sleep(0.2)


async def test_a_closing_and_a_renaming_reach_pfmp_and_the_calculator_as_their_own_events(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    for name, value in service_env.items():
        monkeypatch.setenv(name, value)
    students = StudentsSettings()
    runtimes = [ServiceRuntime(students_spec(students), students),
                ServiceRuntime(pfmp_spec(PfmpSettings()), PfmpSettings()),
                ServiceRuntime(calculator_spec(CalculatorSettings()), CalculatorSettings())]
    for runtime in runtimes:
        await runtime.start()
    pfmp = calculator = None
    try:
        pool = runtimes[0].pool
        assert pool is not None
        topic = students.topic(STUDENTS_EVENTS)

        async def load(row: str, name: str) -> None:
            path = tmp_path / name
            path.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
            async with pool.acquire() as conn, conn.transaction():
                await import_students(conn, ImportStudents(UAI, read_students_csv(path, uai=UAI).records),
                                      today=date(2025, 10, 15), topic=topic)

        async with pool.acquire() as conn, conn.transaction():
            await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
            await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
        await load(ROW, "first.csv")
        await load(MOVED, "moved.csv")
        student_id = await pool.fetchval("SELECT student_id FROM students")
        old = await pool.fetchval("SELECT s.schooling_id FROM schoolings s JOIN classes c USING (class_id) "
                                  "WHERE c.label = 'TLE PRO MELEC'")
        records = await read_topic(service_env["KAFKA_BOOTSTRAP_SERVERS"], topic, expected=5)
        assert [dict(r.headers)["event-type"].decode() for r in records if r.key == str(student_id).encode()] == [
            "StudentRegistered", "SchoolingOpened", "StudentIdentityChanged", "SchoolingClosed", "SchoolingOpened"]

        pfmp = await asyncpg.create_pool(service_env["DATABASE_URL"], min_size=1, max_size=2,
                                         server_settings={"search_path": PfmpSettings().db_schema("pfmp")})
        calculator = await asyncpg.create_pool(
            service_env["DATABASE_URL"], min_size=1, max_size=2,
            server_settings={"search_path": CalculatorSettings().db_schema("calculator")})
        closed = "SELECT end_date::text || '|' || version FROM schoolings WHERE schooling_id = $1"
        await until(pfmp, closed, "2025-10-05|2", old)  # SchoolingClosed applied: its end date, its version
        await until(calculator, closed, "2025-10-05|2", old)
        await until(pfmp, "SELECT last_name || '|' || identity_version FROM students WHERE student_id = $1",
                    "HADDAD-NOUR|2", student_id)
        assert await pfmp.fetchval("SELECT count(*) FROM schoolings WHERE student_id = $1 AND end_date IS NULL",
                                   student_id) == 1  # the new class, open
    finally:
        for extra in (pfmp, calculator):
            if extra is not None:
                await extra.close()
        for runtime in reversed(runtimes):
            await runtime.stop()
