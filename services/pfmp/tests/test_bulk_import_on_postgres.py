"""A PFMP file decided in memory and written in a few statements (issue 12) gives what recording its rows
one by one gives (`record_in_schooling` in a savepoint each, the path before): the same outcomes, the same
refusals on the same lines, the same PFMPs, events and audit rows.

Both run on the real PostgreSQL, each in a transaction rolled back, from the same state: PFMPs already
there (one validated, one deleted) and a file mixing every outcome and refusal, with rows that depend on
rows before them (an edit of a PFMP recorded earlier in the file, an overlap with an earlier row, a row
that overlaps only a refused one).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import PfmpRecorded, default_registry
from aplypro_pfmp.adapters import postgres
from aplypro_pfmp.service_layer.imports import ImportSummary, _row_by_row, import_pfmps
from aplypro_pfmp.service_layer.use_cases import RecordPfmp
from aplypro_servicekit.db import Connection

from .pfmp_world import announce_student

pytestmark = pytest.mark.integration
UAI = "0999001K"
A, B, C, D = "000111223AB", "000111224AB", "000111225AB", "000111226AB"
AUTUMN, WINTER, SPRING = (date(2025, 11, 3), date(2025, 11, 21)), (date(2026, 1, 5), date(2026, 1, 23)), \
    (date(2026, 3, 2), date(2026, 3, 13))


def row(ine: str, period: tuple[date, date], days: int | None) -> RecordPfmp:
    return RecordPfmp(ine, UAI, 2025, period[0], period[1], days)


FILE = [
    row(A, AUTUMN, 12),  # unchanged: the validated PFMP holds it
    row(A, AUTUMN, 10),  # pfmp_validated
    row(A, WINTER, 14),  # recorded, rank 2
    row(A, (date(2025, 11, 10), date(2025, 11, 28)), 5),  # pfmp_overlaps with an existing PFMP
    row(B, SPRING, 6),  # edited (existing, completed)
    row(B, SPRING, None),  # edited again: pending, version 3
    row(B, AUTUMN, 12),  # recorded, rank 3: the deleted PFMP kept rank 2
    row(C, AUTUMN, 12),  # recorded
    row(C, AUTUMN, 11),  # edited: the PFMP recorded two rows above
    row(C, AUTUMN, 11),  # unchanged
    row(C, (date(2025, 11, 20), date(2025, 11, 30)), 5),  # pfmp_overlaps with a row of this file
    row("000999999AB", AUTUMN, 12),  # unknown_schooling
    row(C, (date(2026, 9, 7), date(2026, 9, 18)), 5),  # outside_school_year
    row(D, (date(2025, 12, 1), date(2025, 12, 10)), 20),  # day_count_above_period
    row(D, (date(2025, 12, 5), date(2025, 12, 12)), 5),  # recorded: it overlaps only the refused row
    row(D, (date(2025, 12, 1), date(2025, 12, 3)), 0),  # day_count_too_low
    row(D, (date(2026, 2, 2), date(2026, 2, 13)), 8),  # recorded, rank 2
]


@pytest.fixture
async def pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    """Four students; A has a validated autumn PFMP, B a completed spring one and a deleted one (rank 2)."""
    for ine in (A, B, C, D):
        await announce_student(pool, ine, UAI)
    async with pool.acquire() as conn:
        for ine, period, days, status, rank, deleted in (
                (A, AUTUMN, 12, "validated", 1, False), (B, SPRING, 8, "completed", 1, False),
                (B, WINTER, 9, "completed", 2, True)):
            schooling = await postgres.find_schooling(conn, ine, UAI, 2025)
            assert schooling is not None
            await conn.execute(
                "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, "
                "rank, deleted) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8)",
                schooling["schooling_id"], schooling["student_id"], *period, days, status, rank, deleted)
    return pool


async def one_by_one(conn: Connection, lines: list[tuple[int, RecordPfmp]]) -> ImportSummary:
    """The path before issue 12: each row's schooling, the students locked, each row in a savepoint."""
    schoolings = [await postgres.find_schooling(conn, c.ine, c.uai, c.school_year) for _, c in lines]
    await postgres.lock_students(conn, {s["student_id"] for s in schoolings if s is not None})
    return await _row_by_row(conn, lines, schoolings, topic="t", user_id="u")


async def outcome(pool: asyncpg.Pool, bulk: bool) -> dict[str, Any]:
    """Everything an import leaves: its report, the PFMPs, the events in order, the audit rows in order."""
    lines = list(enumerate(FILE, start=2))
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            summary = await (import_pfmps(conn, lines, topic="t", user_id="u") if bulk else one_by_one(conn, lines))
            ine_of = {r["student_id"]: r["ine"] for r in await conn.fetch("SELECT student_id, ine FROM students")}
            pfmps = sorted((ine_of[r["student_id"]], r["start_date"], r["end_date"], r["day_count"], r["status"],
                            r["rank"], r["version"], r["deleted"]) for r in await conn.fetch("SELECT * FROM pfmps"))
            registry = default_registry()
            events = []
            for key, payload in await conn.fetch("SELECT key, payload FROM outbox ORDER BY id"):
                event = registry.parse(payload)
                assert isinstance(event, PfmpRecorded)
                assert key == str(event.pfmp.student_id).encode()  # keyed by student
                state = event.pfmp
                events.append((ine_of[state.student_id], state.start_date, state.end_date, state.day_count,
                               state.status, state.rank, state.version))
            seqs = {r["pfmp_id"]: r["created_seq"] for r in await conn.fetch("SELECT pfmp_id, created_seq FROM pfmps")}
            for payload in await conn.fetch("SELECT payload FROM outbox"):  # the row's created_seq, not 0
                state = registry.parse(payload[0]).pfmp  # type: ignore[attr-defined]
                assert state.created_seq == seqs[state.pfmp_id]
            audit = [(r["user_id"], r["action"], r["pfmp_version"]) for r in await conn.fetch(
                "SELECT * FROM pfmp_actions ORDER BY id")]
        finally:
            await transaction.rollback()
    return {"counts": summary.as_dict(), "refused": [str(r) for r in summary.refused], "pfmps": pfmps,
            "events": events, "audit": audit}


async def test_a_file_decided_at_once_ends_as_when_recorded_row_by_row(pool: asyncpg.Pool) -> None:
    before, after = await outcome(pool, bulk=False), await outcome(pool, bulk=True)
    assert after == before
    assert after["counts"] == {"recorded": 5, "edited": 3, "unchanged": 2}
    assert [r.split(":")[0:2] for r in after["refused"]] == [
        ["line 3", " pfmp_validated"], ["line 5", " pfmp_overlaps"], ["line 12", " pfmp_overlaps"],
        ["line 13", " unknown_schooling"], ["line 14", " outside_school_year"],
        ["line 15", " day_count_above_period"], ["line 17", " day_count_too_low"]]
