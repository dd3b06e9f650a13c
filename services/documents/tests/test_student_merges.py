"""A merge of two students (imports.md §5.8) reaches documents through the moved schooling's SchoolingOpened
(the survivor's id, the next version): the schooling, and the DAs it gets from then on, are the survivor's."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest

from .conftest import Feed, schooling_opened

pytestmark = pytest.mark.integration


async def test_a_moved_schooling_follows_the_survivor_and_an_older_event_does_not_move_it_back(
    pool: asyncpg.Pool, feed: Feed,
) -> None:
    survivor, merged, schooling_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    before = schooling_opened(merged, schooling_id, start=date(2025, 9, 1))
    moved = schooling_opened(survivor, schooling_id, start=date(2025, 9, 1))  # the next version
    await feed(before, moved, before)  # the older one read late (its own partition) is stale
    assert await pool.fetchval("SELECT student_id FROM schoolings WHERE schooling_id = $1", schooling_id) == survivor
