"""A merge of two students (imports.md §5.8) reaches the asp-gateway through the moved schooling's
SchoolingOpened (the survivor's id, the next version): the schooling is the survivor's from then on."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_contracts import SchoolingOpened

from .conftest import feed, register

pytestmark = pytest.mark.integration


async def test_a_moved_schooling_follows_the_survivor(pool: asyncpg.Pool) -> None:
    merged, schooling_id = await register(pool, 1)
    survivor, _ = await register(pool, 2)
    version = await pool.fetchval("SELECT version FROM schoolings WHERE schooling_id = $1", schooling_id)
    held = await pool.fetchrow("SELECT * FROM schoolings WHERE schooling_id = $1", schooling_id)
    assert held is not None
    assert held["student_id"] == merged
    moved = SchoolingOpened.model_validate({
        **_opened(held), "student_id": survivor, "version": version + 1, "event_id": uuid.uuid4()})
    await feed(pool, projection.on_schooling_opened, moved)
    assert await pool.fetchval("SELECT student_id FROM schoolings WHERE schooling_id = $1", schooling_id) == survivor


def _opened(row: asyncpg.Record) -> dict[str, object]:
    from .conftest import MEF, UAI

    return {"producer": "students", "schooling_id": row["schooling_id"], "class_label": "TLE PRO MELEC",
            "establishment": {"uai": UAI, "name": "LP test"}, "school_year": 2025, "mef": MEF.model_dump(),
            "start_date": row["start_date"]}
