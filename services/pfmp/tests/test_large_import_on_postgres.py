"""A PFMP file of a whole region in one import (found by the 20,000-student drill): one transaction locks
its students first, and that must not need one lock per student. PostgreSQL's shared lock table holds
`max_locks_per_transaction × max_connections` entries; a file with more students than that failed with
"out of shared memory" before the student locks became 1,024 slots.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from aplypro_pfmp.adapters import postgres
from aplypro_pfmp.entrypoints.cli import app
from aplypro_servicekit.db import Connection
from typer.testing import CliRunner

pytestmark = pytest.mark.integration
UAI = "0999001K"


async def lock_table_capacity(conn: Connection) -> int:
    """More locks than PostgreSQL's shared lock table holds: `max_locks_per_transaction` for each backend
    slot (MaxBackends and prepared transactions), doubled for the table's slack."""
    names = ("max_connections", "autovacuum_max_workers", "max_worker_processes", "max_wal_senders",
             "max_prepared_transactions")
    settings = {r["name"]: int(r["setting"]) for r in await conn.fetch(
        "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])", ["max_locks_per_transaction", *names])}
    return 2 * settings["max_locks_per_transaction"] * (1 + sum(settings[n] for n in names))


async def add_students(conn: Connection, count: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(student, schooling) pairs written straight into the projection: the locks are what is tested."""
    ids = [(uuid.uuid4(), uuid.uuid4()) for _ in range(count)]
    await conn.copy_records_to_table("students", records=[(s, f"{n:09d}AB", "NOM", ["Prenom"])
                                                          for n, (s, _) in enumerate(ids)],
                                     columns=["student_id", "ine", "last_name", "first_names"])
    await conn.execute(
        "INSERT INTO schoolings (schooling_id, student_id, uai, school_year, status, start_date, version) "
        "SELECT sc, s, $1, 2025, 'student', DATE '2025-09-01', 1 FROM unnest($2::uuid[], $3::uuid[]) AS u(s, sc)",
        UAI, [s for s, _ in ids], [sc for _, sc in ids])
    return ids


async def test_one_transaction_locks_more_students_than_the_lock_table_holds(pool: asyncpg.Pool) -> None:
    """What an import does first: every student of the file locked, in one transaction."""
    async with pool.acquire() as conn:
        students = await lock_table_capacity(conn) + 1000
        async with conn.transaction():
            for student_id in (uuid.uuid4() for _ in range(students)):
                await postgres.lock_student(conn, student_id)
            held = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                       "AND pid = pg_backend_pid()")
    assert held <= 1024


async def test_one_statement_inserts_more_pfmps_than_the_lock_table_holds(pool: asyncpg.Pool) -> None:
    """The overlap trigger takes the student's lock for each row: a bulk write of a region's PFMPs."""
    async with pool.acquire() as conn:
        ids = await add_students(conn, await lock_table_capacity(conn) + 1000)
        await conn.execute(
            "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, "
            "created_seq, rank) SELECT gen_random_uuid(), sc, s, DATE '2025-11-03', DATE '2025-11-21', 12, "
            "'pending', 1, 1 FROM unnest($1::uuid[], $2::uuid[]) AS u(s, sc)",
            [s for s, _ in ids], [sc for _, sc in ids])
        assert await conn.fetchval("SELECT count(*) FROM pfmps") == len(ids)


async def test_a_region_file_is_imported_in_one_command(pool: asyncpg.Pool, database_url: str, namespace: str,
                                                         tmp_path: Path) -> None:
    """The import path itself (its lock of the file's students first), on a file of a few hundred rows."""
    async with pool.acquire() as conn:
        ids = await add_students(conn, 300)
        ines = [r["ine"] for r in await conn.fetch("SELECT ine FROM students")]
    path = tmp_path / "region.csv"
    path.write_text("ine;uai;annee_scolaire;date_debut;date_fin;nb_jours\n"
                    + "".join(f"{ine};{UAI};2025-2026;2025-11-03;2025-11-21;12\n" for ine in ines), encoding="utf-8")
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["import-csv", str(path)], env=env)
    assert result.exit_code == 0, result.output[-2000:]
    assert json.loads(result.output.strip().splitlines()[-1]) == {"recorded": len(ids), "edited": 0, "unchanged": 0}
