"""A changed establishment (issue 13): the students service re-publishes each schooling as SchoolingChanged
(`changed`: establishment). The calculator keeps only the establishment's UAI: it applies the new version as any
schooling change and publishes nothing (same barème, same amounts, no new request); an older one is dropped."""

from __future__ import annotations

import uuid

import pytest
from aplypro_contracts import SchoolingChanged

from .calculator_world import Calc

pytestmark = pytest.mark.integration


async def test_a_changed_establishment_is_applied_without_a_new_amount_or_request(calc: Calc) -> None:
    schooling = await calc.schooling()
    pfmp = await calc.validate(await calc.record(calc.pfmp(schooling, 10)))
    [request] = await calc.requests(pfmp.pfmp_id)
    mark = await calc.mark()
    state = schooling.model_dump(exclude={"event_id", "event_type", "schema_version", "occurred_at"})
    renamed = schooling.establishment.model_copy(update={"name": "Lycée des métiers de test", "city_insee": "35238"})
    await calc.feed(SchoolingChanged(**{**state, "establishment": renamed, "version": 2}, changed=("establishment",)))
    await calc.feed(schooling.model_copy(update={"event_id": uuid.uuid4()}))  # the older version, read late

    assert await calc.db.fetchval("SELECT version FROM schoolings WHERE schooling_id = $1",
                                  schooling.schooling_id) == 2
    assert await calc.db.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'SchoolingOpened'") == 1
    assert await calc.events(mark) == []
    assert await calc.requests(pfmp.pfmp_id) == [request]
