"""A changed establishment (issue 13): the students service re-publishes each schooling as SchoolingChanged
(`changed`: establishment). The calculator keeps only the establishment's UAI: it stores the new version (an
older one is then dropped) and, nothing it prices on having changed, recomputes no pool and publishes nothing:
not even a request that fell due meanwhile (the evaluator of due requests sends that one)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from aplypro_contracts import SchoolingChanged

from .calculator_world import Calc
from .test_cooldown_on_postgres import DAY, MIDNIGHT

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


async def test_a_changed_establishment_re_prices_nothing_even_with_a_request_due(nightly: Calc) -> None:
    """A validated PFMP's request waits for midnight (the cool-down). The directory re-publishes the schooling the
    next morning: the calculator stores it and sends nothing; the due request is the evaluator's to send."""
    nightly.now = DAY
    schooling = await nightly.schooling()
    pfmp = await nightly.validate(await nightly.record(nightly.pfmp(schooling, 10)), at=DAY)
    [waiting] = await nightly.requests(pfmp.pfmp_id)
    assert waiting["state"] == "pending"
    nightly.now = MIDNIGHT + timedelta(hours=8)  # due now
    mark = await nightly.mark()
    state = schooling.model_dump(exclude={"event_id", "event_type", "schema_version", "occurred_at"})
    moved = schooling.establishment.model_copy(update={"name": "Lycée des métiers renommé", "contract_type_code": "30",
                                                       "academy_code": "14", "head_name": "Mme Directrice"})
    await nightly.feed(SchoolingChanged(**{**state, "establishment": moved, "version": 2}, changed=("establishment",)))

    assert await nightly.events(mark) == []
    assert await nightly.requests(pfmp.pfmp_id) == [waiting]
    assert await nightly.db.fetchval("SELECT version FROM schoolings WHERE schooling_id = $1",
                                     schooling.schooling_id) == 2  # stored: a late version 1 is stale

    done = await nightly.evaluate_due(nightly.now)  # the evaluator's pass sends it, once
    assert done.requests == 1
    assert [e.event_type for e in await nightly.events(mark)] in (["PaymentRequested"], ["PaymentRequestBlocked"])


async def test_a_schooling_change_that_sets_a_date_still_re_prices(nightly: Calc) -> None:
    """The guard compares what the calculator reads: a real change (here an end date) recomputes as before."""
    nightly.now = DAY
    schooling = await nightly.schooling()
    pfmp = await nightly.validate(await nightly.record(nightly.pfmp(schooling, 10)), at=DAY)
    nightly.now = MIDNIGHT + timedelta(hours=8)
    mark = await nightly.mark()
    state = schooling.model_dump(exclude={"event_id", "event_type", "schema_version", "occurred_at"})
    await nightly.feed(SchoolingChanged(**{**state, "end_date": schooling.start_date + timedelta(days=300),
                                           "version": 2}, changed=("end_date",)))
    assert [r["state"] for r in await nightly.requests(pfmp.pfmp_id)] != ["pending"]  # evaluated with the change
    assert await nightly.events(mark) != []
