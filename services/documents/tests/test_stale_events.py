"""Stale events are dropped, not applied (issue 9): documents' projection keeps the newest version of each
PFMP and schooling it holds, and counts the older events it drops."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest
from aplypro_contracts import PfmpRecorded, StudentIdentityChanged, StudentRegistered

from .conftest import Feed, identity_of, pfmp_validated, schooling_opened

pytestmark = pytest.mark.integration


async def stale(pool: asyncpg.Pool) -> dict[str, int]:
    return {r["event_type"]: int(r["dropped"]) for r in await pool.fetch("SELECT * FROM stale_events")}


async def test_an_older_recorded_arriving_after_validated_leaves_the_pfmp_validated(
    pool: asyncpg.Pool, feed: Feed
) -> None:
    student_id, schooling_id, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    validated = pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17))
    recorded = PfmpRecorded(producer="pfmp", pfmp=validated.pfmp.model_copy(
        update={"status": "completed", "version": 1}))
    # Validated (version 2) is read first, then the older Recorded (version 1) of the same PFMP.
    await feed(validated)
    await feed(recorded)
    row = await pool.fetchrow("SELECT status, validated_on, version FROM pfmps WHERE pfmp_id = $1", pfmp_id)
    assert row is not None
    assert (row["status"], row["validated_on"], row["version"]) == ("validated", date(2025, 10, 18), 2)
    assert await stale(pool) == {"PfmpRecorded": 1}


async def test_an_older_schooling_never_reopens_a_closed_one(pool: asyncpg.Pool, feed: Feed) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    opened = schooling_opened(student_id, schooling_id, start=date(2025, 9, 1))
    closed = schooling_opened(student_id, schooling_id, start=date(2025, 9, 1), end=date(2026, 1, 4))
    assert opened.version < closed.version
    await feed(closed)
    await feed(opened)  # read late
    await feed(closed.model_copy(update={"event_id": uuid.uuid4()}))  # the same version again: a no-op
    end = await pool.fetchval("SELECT end_date FROM schoolings WHERE schooling_id = $1", schooling_id)
    assert end == date(2026, 1, 4)
    assert await stale(pool) == {"SchoolingOpened": 2}


async def test_an_older_identity_never_overwrites_a_newer_one(pool: asyncpg.Pool, feed: Feed) -> None:
    student_id = uuid.uuid4()
    renamed = StudentIdentityChanged(producer="students", student_id=student_id, identity=identity_of("Roux", "Léo"),
                                     version=2, changed=("last_name",))
    await feed(renamed)
    await feed(StudentRegistered(producer="students", student_id=student_id, identity=identity_of("Rousseau", "Léo"),
                                 version=1))  # the registration, read late
    assert await pool.fetchval("SELECT identity->>'last_name' FROM students WHERE student_id = $1",
                               student_id) == "Roux"
    assert await stale(pool) == {"StudentRegistered": 1}
