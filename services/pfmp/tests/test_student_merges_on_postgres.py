"""pfmp follows a student merge (StudentsMerged, imports.md §5.8) on the real PostgreSQL: the merged student's
schoolings and PFMPs move to the survivor, a PFMP recorded with the merged INE lands on the survivor, a replay
changes nothing, and overlapping PFMPs of the pair refuse the merge (dead-lettered, with its reason)."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest
from aplypro_contracts import Establishment, Mef, SchoolingOpened, StudentsMerged
from aplypro_pfmp.adapters.merge_sql import MergeConflict
from aplypro_pfmp.service_layer import projection
from aplypro_pfmp.service_layer.use_cases import RecordPfmp, record_pfmp

pytestmark = pytest.mark.integration
SURVIVOR, MERGED = uuid.UUID(int=1), uuid.UUID(int=2)
MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ")


def schooling(student: uuid.UUID, uai: str, start: date, end: date | None) -> SchoolingOpened:
    return SchoolingOpened(producer="students", schooling_id=uuid.uuid4(), student_id=student,
                           establishment=Establishment(uai=uai, name="LP test"), class_label="TLE PRO",
                           school_year=2025, mef=MEF, start_date=start, end_date=end, version=1)


async def setup(pool: asyncpg.Pool, merged_pfmp: tuple[date, date]) -> SchoolingOpened:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO students VALUES ($1, 'INE0001', 'X', '{Y}'), ($2, 'INE0002', 'X', '{Y}')",
                           SURVIVOR, MERGED)
        await projection.on_schooling_opened(conn, schooling(SURVIVOR, "0999001K", date(2025, 11, 1), None))
        moved = schooling(MERGED, "0999002L", date(2025, 9, 1), date(2025, 10, 31))
        await projection.on_schooling_opened(conn, moved)
        await record_pfmp(conn, RecordPfmp("INE0001", "0999001K", 2025, date(2025, 11, 3), date(2025, 11, 14), 10),
                          topic="t")
        await record_pfmp(conn, RecordPfmp("INE0002", "0999002L", 2025, *merged_pfmp, 5), topic="t")
    return moved


def merge() -> StudentsMerged:
    return StudentsMerged(producer="students", survivor_id=SURVIVOR, merged_id=MERGED, version=1)


async def test_the_merged_students_schoolings_and_pfmps_move_to_the_survivor(pool: asyncpg.Pool) -> None:
    moved = await setup(pool, (date(2025, 10, 6), date(2025, 10, 10)))
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_students_merged(conn, merge())
        # then the students service's SchoolingOpened of the moved schooling (survivor, next version)
        await projection.on_schooling_opened(conn, moved.model_copy(update={"student_id": SURVIVOR, "version": 2}))
    assert await pool.fetchval("SELECT array_agg(DISTINCT student_id) FROM pfmps") == [SURVIVOR]
    assert await pool.fetchval("SELECT array_agg(DISTINCT student_id) FROM schoolings") == [SURVIVOR]
    # a PFMP file still naming the merged INE finds the survivor's schooling
    async with pool.acquire() as conn, conn.transaction():
        await record_pfmp(conn, RecordPfmp("INE0002", "0999002L", 2025, date(2025, 10, 20), date(2025, 10, 24), 5),
                          topic="t")
        await projection.on_students_merged(conn, merge())  # a replay: nothing more
    assert await pool.fetchval("SELECT count(*) FROM pfmps WHERE student_id = $1", SURVIVOR) == 3
    assert await pool.fetchval("SELECT count(*) FROM student_merges") == 1


async def test_overlapping_pfmps_of_the_pair_refuse_the_merge_with_a_reason(pool: asyncpg.Pool) -> None:
    await setup(pool, (date(2025, 11, 10), date(2025, 11, 21)))  # shares days with the survivor's PFMP
    with pytest.raises(MergeConflict) as refused:
        async with pool.acquire() as conn, conn.transaction():
            await projection.on_students_merged(conn, merge())
    assert refused.value.code == "merge_overlapping_pfmps"
    assert await pool.fetchval("SELECT count(*) FROM pfmps WHERE student_id = $1", MERGED) == 1  # rolled back
