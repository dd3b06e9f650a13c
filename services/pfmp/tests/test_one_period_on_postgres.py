"""One period, one payment (issue 9, item 1): a PFMP has a natural identity and never overlaps another
PFMP of its student; concurrent imports of one schooling never crash on the rank (item 9).

Through `aplypro-pfmp import-csv` and `record_pfmp` on the real PostgreSQL; events are counted in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aplypro_contracts import (
    PfmpRecorded,
    PfmpValidated,
    default_registry,
)
from aplypro_pfmp.entrypoints.cli import app
from aplypro_pfmp.service_layer.use_cases import RecordPfmp, record_pfmp
from aplypro_pfmp.service_layer.validation import validate_establishment
from aplypro_servicekit.db import Connection
from typer.testing import CliRunner, Result

from .pfmp_world import announce_student

pytestmark = pytest.mark.integration
HEADER = "ine;uai;annee_scolaire;date_debut;date_fin;nb_jours"
INE = "000111223AB"
UAI = "0999001K"
AUTUMN = f"{INE};{UAI};2025-2026;2025-11-03;2025-11-21;12"
SPRING = f"{INE};{UAI};2025-2026;2026-03-02;2026-03-13;8"


async def validate_all(conn: Connection, today: date) -> int:
    """The director's bulk validation, every schooling holding its DA (issue 10's guard)."""
    await conn.execute("INSERT INTO decisions SELECT schooling_id, 'attribution', 1 FROM schoolings "
                       "ON CONFLICT DO NOTHING")
    report = await validate_establishment(conn, uai=None, user_id="user-1", today=today, topic="t",
                                          require_rib=False)
    return len(report.validated)


@pytest.fixture
async def pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The migrated schema (conftest) with the one student these tests import PFMPs for."""
    await announce_student(pool, INE, UAI)
    return pool


async def import_csv(path: Path, database_url: str, namespace: str) -> Result:
    # The CLI runs its own event loop (asyncio.run): give it a thread of its own.
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    return await asyncio.to_thread(CliRunner().invoke, app, ["import-csv", str(path)], env=env)


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


async def outbox_events(pool: asyncpg.Pool) -> Counter[tuple[str, int]]:
    """(event type, PFMP version) of every PFMP event written."""
    registry = default_registry()
    payloads = await pool.fetchval("SELECT array_agg(payload ORDER BY id) FROM outbox") or []
    return Counter((e.event_type, e.pfmp.version) for e in map(registry.parse, payloads)
                   if isinstance(e, PfmpRecorded | PfmpValidated))


async def test_a_row_imported_again_and_twice_in_one_file_is_one_pfmp_with_one_flow(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path,
) -> None:
    """The measured bug: 1 row, then a file holding it twice, gave 3 PFMPs and 3 payments of 90 €."""
    first = await import_csv(write(tmp_path, "a.csv", AUTUMN), database_url, namespace)
    assert first.exit_code == 0, first.output
    again = await import_csv(write(tmp_path, "b.csv", AUTUMN, AUTUMN), database_url, namespace)
    assert again.exit_code == 0, again.output
    assert await pool.fetchval("SELECT count(*) FROM pfmps") == 1
    assert json.loads(again.stdout) == {"recorded": 0, "edited": 0, "unchanged": 2}
    async with pool.acquire() as conn, conn.transaction():
        assert await validate_all(conn, date(2026, 1, 5)) == 1
    assert await outbox_events(pool) == Counter({("PfmpRecorded", 1): 1, ("PfmpValidated", 2): 1})


async def test_a_row_duplicated_in_a_new_file_is_recorded_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path,
) -> None:
    result = await import_csv(write(tmp_path, "a.csv", AUTUMN, SPRING, AUTUMN), database_url, namespace)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"recorded": 2, "edited": 0, "unchanged": 1}
    assert await pool.fetchval("SELECT array_agg(rank ORDER BY rank) FROM pfmps") == [1, 2]


async def test_the_same_period_with_another_day_count_edits_the_pfmp(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path,
) -> None:
    assert (await import_csv(write(tmp_path, "a.csv", AUTUMN), database_url, namespace)).exit_code == 0
    edited = await import_csv(write(tmp_path, "b.csv", AUTUMN.replace(";12", ";10")), database_url, namespace)
    assert edited.exit_code == 0, edited.output
    assert json.loads(edited.stdout) == {"recorded": 0, "edited": 1, "unchanged": 0}
    row = await pool.fetchrow("SELECT day_count, status, version, rank FROM pfmps")
    assert row is not None
    assert dict(row) == {"day_count": 10, "status": "completed", "version": 2, "rank": 1}
    assert await outbox_events(pool) == Counter({("PfmpRecorded", 1): 1, ("PfmpRecorded", 2): 1})


async def test_an_import_never_changes_a_validated_pfmp_and_reports_the_row(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path,
) -> None:
    assert (await import_csv(write(tmp_path, "a.csv", AUTUMN), database_url, namespace)).exit_code == 0
    async with pool.acquire() as conn, conn.transaction():
        assert await validate_all(conn, date(2026, 1, 5)) == 1
    unchanged = await import_csv(write(tmp_path, "b.csv", AUTUMN), database_url, namespace)
    assert json.loads(unchanged.stdout) == {"recorded": 0, "edited": 0, "unchanged": 1}
    result = await import_csv(write(tmp_path, "c.csv", SPRING, AUTUMN.replace(";12", ";10")), database_url,
                              namespace)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0].startswith("line 3: pfmp_validated: ")
    assert INE not in result.stderr
    row = await pool.fetchrow("SELECT count(*) AS n, max(day_count) AS days, max(version) AS version FROM pfmps")
    assert row is not None
    assert (row["n"], row["days"], row["version"]) == (1, 12, 2)


@pytest.mark.parametrize("period", [("2025-11-21", "2025-11-28"), ("2025-10-01", "2025-11-03"),
                                    ("2025-11-10", "2025-11-14"), ("2025-11-03", "2025-11-20")])
async def test_a_pfmp_overlapping_another_of_the_student_is_refused_by_line(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path, period: tuple[str, str],
) -> None:
    """Both ends are included: sharing one day is an overlap."""
    row = f"{INE};{UAI};2025-2026;{period[0]};{period[1]};1"
    result = await import_csv(write(tmp_path, "a.csv", SPRING, AUTUMN, row), database_url, namespace)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0].startswith("line 4: pfmp_overlaps: ")
    assert INE not in result.stderr
    assert period[0] not in result.stderr
    assert await pool.fetchval("SELECT count(*) FROM pfmps") == 0


async def test_the_database_refuses_an_overlap_written_past_the_service(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await record_pfmp(conn, RecordPfmp(INE, UAI, 2025, date(2025, 11, 3), date(2025, 11, 21), 12), topic="t")
    row = await pool.fetchrow("SELECT * FROM pfmps")
    assert row is not None
    with pytest.raises(asyncpg.ExclusionViolationError):
        await pool.execute(
            "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, rank) "
            "VALUES ($1, $2, $3, '2025-11-21', '2025-11-25', 2, 'completed', 2)",
            uuid.uuid4(), row["schooling_id"], row["student_id"])
    # a deleted PFMP frees its period
    await pool.execute("UPDATE pfmps SET deleted = true")
    await pool.execute(
        "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, rank) "
        "VALUES ($1, $2, $3, '2025-11-21', '2025-11-25', 2, 'completed', 2)",
        uuid.uuid4(), row["schooling_id"], row["student_id"])


async def test_two_interleaved_recordings_of_one_schooling_take_distinct_ranks(pool: asyncpg.Pool) -> None:
    """The second import reads the rank while the first holds its PFMP uncommitted: it waits, then follows."""
    first_conn = await pool.acquire()
    try:
        async with first_conn.transaction():
            await record_pfmp(first_conn, RecordPfmp(INE, UAI, 2025, date(2025, 11, 3), date(2025, 11, 21), 12),
                              topic="t")

            async def second() -> None:
                async with pool.acquire() as conn, conn.transaction():
                    await record_pfmp(conn, RecordPfmp(INE, UAI, 2025, date(2026, 3, 2), date(2026, 3, 13), 8),
                                      topic="t")

            other = asyncio.create_task(second())
            await asyncio.sleep(0.5)  # the second is now waiting on the first
            assert not other.done()
    finally:
        await pool.release(first_conn)
    await asyncio.wait_for(other, 10)
    assert await pool.fetchval("SELECT array_agg(rank ORDER BY start_date) FROM pfmps") == [1, 2]


async def import_in_a_process(path: Path, database_url: str, namespace: str) -> tuple[int, str]:
    """`aplypro-pfmp import-csv` as its own process: two of them really run at the same time."""
    command = Path(sys.executable).parent / "aplypro-pfmp"
    env = {**os.environ, "DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    process = await asyncio.create_subprocess_exec(str(command), "import-csv", str(path), env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_two_concurrent_imports_of_one_schooling_both_succeed(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path,
) -> None:
    weeks = [date.fromordinal(date(2025, 9, 1).toordinal() + 7 * i) for i in range(40)]
    rows = [f"{INE};{UAI};2025-2026;{d.isoformat()};{date.fromordinal(d.toordinal() + 4).isoformat()};3"
            for d in weeks]
    a, b = write(tmp_path, "a.csv", *rows[0::2]), write(tmp_path, "b.csv", *rows[1::2])
    both = await asyncio.gather(import_in_a_process(a, database_url, namespace),
                                import_in_a_process(b, database_url, namespace))
    assert [code for code, _ in both] == [0, 0], both
    assert await pool.fetchval("SELECT array_agg(rank ORDER BY rank) FROM pfmps") == list(range(1, 41))
    # and again, both at once: every row is found, nothing is written
    both = await asyncio.gather(import_in_a_process(a, database_url, namespace),
                                import_in_a_process(a, database_url, namespace))
    assert [json.loads(out.splitlines()[-1]) for _, out in both] == [{"recorded": 0, "edited": 0, "unchanged": 20}] * 2
    assert await pool.fetchval("SELECT count(*) FROM pfmps") == 40
