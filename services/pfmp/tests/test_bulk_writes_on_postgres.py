"""The national-volume paths of pfmp (issue 12): the overlap check of a many-row INSERT (migration 0022) and the
bulk validation's single read of the list and its guards' facts, on the real PostgreSQL.

The projection is written straight into its tables (students, schoolings, RIBs on file, decisions), as the
consumers leave it: what is tested is the write path and the guards, not the consumers.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import asyncpg
import pytest
from aplypro_contracts import PfmpValidated, default_registry
from aplypro_pfmp.adapters import import_sql
from aplypro_pfmp.domain.pfmp import Pfmp, Status
from aplypro_pfmp.service_layer.validation import validate_establishment

pytestmark = pytest.mark.integration
UAI, OTHER_UAI = "0999001K", "0999002L"
TODAY = date(2026, 1, 5)


async def add_students(pool: asyncpg.Pool, count: int, uai: str = UAI) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(student, schooling) pairs, a 2025 schooling each in `uai`."""
    ids = [(uuid.uuid4(), uuid.uuid4()) for _ in range(count)]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("students", records=[(s, f"{n:09d}AB", "NOM", ["Prenom"])
                                                              for n, (s, _) in enumerate(ids)],
                                         columns=["student_id", "ine", "last_name", "first_names"])
        await conn.copy_records_to_table("schoolings", records=[(sc, s, uai, 2025, "student", date(2025, 9, 1), 1)
                                                                for s, sc in ids],
                                         columns=["schooling_id", "student_id", "uai", "school_year", "status",
                                                  "start_date", "version"])
    return ids


def pfmp(student_id: uuid.UUID, schooling_id: uuid.UUID, start: date, end: date, rank: int = 1) -> Pfmp:
    return Pfmp(uuid.uuid4(), schooling_id, student_id, start, end, 5, Status.COMPLETED, rank)


async def insert(pool: asyncpg.Pool, pfmps: list[Pfmp]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await import_sql.insert_pfmps(conn, pfmps)


NOVEMBER = (date(2025, 11, 3), date(2025, 11, 21))
MARCH = (date(2026, 3, 2), date(2026, 3, 13))


async def test_a_many_row_insert_checks_overlaps_once_for_the_statement(pool: asyncpg.Pool) -> None:
    """Not a plan and a query per row: 150 µs a row was 6 s of a 40,000-row import."""
    students = await add_students(pool, 300)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL track_functions = 'pl'")
        await import_sql.insert_pfmps(conn, [pfmp(s, sc, *NOVEMBER) for s, sc in students]
                                      + [pfmp(s, sc, *MARCH, rank=2) for s, sc in students])
        calls = {r["funcname"]: r["calls"] for r in await conn.fetch(
            "SELECT funcname, calls FROM pg_stat_xact_user_functions WHERE funcname LIKE 'pfmps_one_period%'")}
    assert calls == {"pfmps_one_period_inserted": 1}
    assert await pool.fetchval("SELECT count(*) FROM pfmps") == 600


async def test_a_many_row_insert_is_refused_when_two_of_its_rows_overlap(pool: asyncpg.Pool) -> None:
    (s, sc), (other, other_sc) = await add_students(pool, 2)
    with pytest.raises(asyncpg.ExclusionViolationError, match=r"^pfmp_overlaps: "):
        await insert(pool, [pfmp(other, other_sc, *NOVEMBER), pfmp(s, sc, *NOVEMBER),
                            pfmp(s, sc, date(2025, 11, 21), date(2025, 11, 28), rank=2)])  # one shared day
    assert await pool.fetchval("SELECT count(*) FROM pfmps") == 0


async def test_a_many_row_insert_overlapping_a_live_pfmp_is_refused_and_a_deleted_one_frees_its_period(
    pool: asyncpg.Pool,
) -> None:
    (s, sc), (other, other_sc) = await add_students(pool, 2)
    first = pfmp(s, sc, *NOVEMBER)
    await insert(pool, [first])
    with pytest.raises(asyncpg.ExclusionViolationError):
        await insert(pool, [pfmp(other, other_sc, *NOVEMBER), pfmp(s, sc, date(2025, 11, 10), date(2025, 11, 14), 2)])
    await pool.execute("UPDATE pfmps SET deleted = true WHERE pfmp_id = $1", first.pfmp_id)
    await insert(pool, [pfmp(other, other_sc, *NOVEMBER), pfmp(s, sc, date(2025, 11, 10), date(2025, 11, 14), 2)])
    deleted_twin = pfmp(s, sc, date(2025, 11, 10), date(2025, 11, 14), 3)
    async with pool.acquire() as conn:  # a row inserted deleted overlaps nothing
        await conn.execute(
            "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, rank, "
            "deleted) VALUES ($1, $2, $3, $4, $5, 5, 'completed', 3, true)", deleted_twin.pfmp_id, sc, s,
            deleted_twin.start_date, deleted_twin.end_date)
    assert await pool.fetchval("SELECT count(*) FROM pfmps WHERE NOT deleted") == 2


async def test_a_writer_past_the_service_waits_for_an_uncommitted_insert_then_is_refused(pool: asyncpg.Pool) -> None:
    """The statement's check takes the students' slot locks: a concurrent writer of an overlapping period
    waits for the first transaction, then reads its rows committed."""
    (s, sc), = await add_students(pool, 1)
    first = await pool.acquire()
    try:
        async with first.transaction():
            await import_sql.insert_pfmps(first, [pfmp(s, sc, *NOVEMBER)])
            second = asyncio.create_task(insert(pool, [pfmp(s, sc, date(2025, 11, 20), date(2025, 11, 28), 2)]))
            await asyncio.sleep(1)
            assert not second.done()  # waiting on the slot lock
        with pytest.raises(asyncpg.ExclusionViolationError):
            await second
    finally:
        await pool.release(first)
    assert await pool.fetchval("SELECT count(*) FROM pfmps") == 1


async def test_the_bulk_validation_reads_each_guard_for_its_own_pfmp(pool: asyncpg.Pool) -> None:
    """Read for the whole list at once, each PFMP still gets its own facts: the RIB of its schooling's
    establishment (not another's), its schooling's DA (a retrait withdraws it); --uai keeps to one
    establishment; a PFMP another validation holds is left to it; one audit row and one event each."""
    ready, rib_elsewhere, withdrawn, no_da, locked = await add_students(pool, 5)
    (elsewhere, elsewhere_sc), = await add_students(pool, 1, OTHER_UAI)
    pfmps = {name: pfmp(s, sc, *NOVEMBER) for name, (s, sc) in
             [("ready", ready), ("rib_elsewhere", rib_elsewhere), ("withdrawn", withdrawn), ("no_da", no_da),
              ("locked", locked), ("elsewhere", (elsewhere, elsewhere_sc))]}
    await insert(pool, list(pfmps.values()))
    await pool.executemany("INSERT INTO ribs_on_file VALUES ($1, $2)",
                           [(ready[0], UAI), (rib_elsewhere[0], OTHER_UAI), (withdrawn[0], UAI), (no_da[0], UAI),
                            (locked[0], UAI), (elsewhere, OTHER_UAI)])
    await pool.executemany("INSERT INTO decisions VALUES ($1, $2, 1)",
                           [(ready[1], "attribution"), (rib_elsewhere[1], "attribution"),
                            (withdrawn[1], "attribution"), (withdrawn[1], "retrait"), (locked[1], "attribution"),
                            (elsewhere_sc, "attribution")])
    holder = await pool.acquire()
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM pfmps WHERE pfmp_id = $1 FOR UPDATE", pfmps["locked"].pfmp_id)
            async with pool.acquire() as conn, conn.transaction():
                report = await validate_establishment(conn, uai=UAI, user_id="director-1", today=TODAY, topic="t",
                                                      require_rib=True)
    finally:
        await pool.release(holder)
    assert [p.pfmp_id for p in report.validated] == [pfmps["ready"].pfmp_id]
    assert {r.pfmp_id: r.code for r in report.refused} == {
        pfmps["rib_elsewhere"].pfmp_id: "missing_rib", pfmps["withdrawn"].pfmp_id: "missing_attributive_decision",
        pfmps["no_da"].pfmp_id: "missing_attributive_decision"}
    assert report.as_dict() == {"validated": 1, "skipped": {"missing_rib": 1, "missing_attributive_decision": 2}}
    statuses = {r["pfmp_id"]: r["status"] for r in await pool.fetch("SELECT pfmp_id, status FROM pfmps")}
    assert [p for p, s in statuses.items() if s == "validated"] == [pfmps["ready"].pfmp_id]
    audit = await pool.fetch("SELECT user_id, action, pfmp_id, pfmp_version FROM pfmp_actions")
    assert [tuple(r) for r in audit] == [("director-1", "validate", pfmps["ready"].pfmp_id, 2)]
    payloads = await pool.fetchval("SELECT array_agg(payload ORDER BY id) FROM outbox") or []
    events = [e for e in map(default_registry().parse, payloads) if isinstance(e, PfmpValidated)]
    assert [(e.pfmp.pfmp_id, e.pfmp.version, e.pfmp.status) for e in events] == [
        (pfmps["ready"].pfmp_id, 2, "validated")]


async def test_validating_a_freshly_imported_list_updates_its_rows_in_place(pool: asyncpg.Pool) -> None:
    """Room left on each page by the import (fillfactor): the validation's new versions stay on their pages
    and touch no index (HOT), instead of four index entries each."""
    students = await add_students(pool, 300)
    await insert(pool, [pfmp(s, sc, *NOVEMBER) for s, sc in students])
    await pool.executemany("INSERT INTO decisions VALUES ($1, 'attribution', 1)", [(sc,) for _, sc in students])
    async with pool.acquire() as conn, conn.transaction():
        report = await validate_establishment(conn, uai=UAI, user_id="director-1", today=TODAY, topic="t",
                                              require_rib=False)
        counts = await conn.fetchrow("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                                     "WHERE relid = 'pfmps'::regclass")
    assert len(report.validated) == 300
    assert counts is not None
    assert (counts["n_tup_upd"], counts["n_tup_hot_upd"]) == (300, 300)
