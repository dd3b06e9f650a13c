"""A hidden schooling is not paid (lifecycles.md §3 "remove"; imports.md §3.4 retraction), on the real PostgreSQL:
its PFMPs hold nothing and get no request; an open request is blocked with `hidden_schooling`, whatever arrives
after the hiding (a validation, a DA); staff reintegrating the schooling releases it; a replayed hiding is stale."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aplypro_contracts import SchoolingHiddenChanged, SchoolingOpened

from .calculator_world import Calc

pytestmark = pytest.mark.integration


def hiding(schooling: SchoolingOpened, hidden: bool, version: int) -> SchoolingHiddenChanged:
    return SchoolingHiddenChanged(producer="students", schooling_id=schooling.schooling_id,
                                  student_id=schooling.student_id, hidden=hidden, version=version)


async def state(calc: Calc, pfmp_id: uuid.UUID) -> tuple[str, list[str]]:
    request = (await calc.requests(pfmp_id))[-1]
    return request["state"], list(request["reasons"])


async def test_a_pfmp_validated_after_its_schooling_was_hidden_gets_no_amount_and_no_request(calc: Calc) -> None:
    schooling = await calc.schooling()
    await calc.feed(hiding(schooling, True, 1))  # retracted by its producer, the DA already issued (a race)
    mark = await calc.mark()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    assert await calc.amount(pfmp.pfmp_id) is None
    assert await calc.requests(pfmp.pfmp_id) == []
    assert await calc.events(mark, "PaymentRequested") == []
    [computed] = await calc.events(mark, "AmountComputed")
    assert computed.amount_cents is None
    assert "hidden schooling" in " ".join(computed.explanation)


async def test_hiding_blocks_an_open_request_with_its_reason_until_staff_reintegrate(calc: Calc) -> None:
    schooling = await calc.schooling(with_decision=False)
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    assert await state(calc, pfmp.pfmp_id) == ("incomplete", ["missing_attributive_decision"])

    mark = await calc.mark()
    await calc.feed(hiding(schooling, True, 1))
    assert await state(calc, pfmp.pfmp_id) == ("incomplete", ["pfmp_amount", "missing_attributive_decision",
                                                              "hidden_schooling"])
    [blocked] = await calc.events(mark, "PaymentRequestBlocked")
    assert (blocked.schema_version, blocked.reasons[-1]) == (5, "hidden_schooling")
    assert await calc.amount(pfmp.pfmp_id) is None

    # A DA issued after the hiding (documents had not seen it yet) releases nothing: never a silent payment.
    await calc.feed(calc.decision(schooling))
    assert await state(calc, pfmp.pfmp_id) == ("incomplete", ["pfmp_amount", "hidden_schooling"])
    assert await calc.events(mark, "PaymentRequested") == []

    # Reintegrated by staff (version 2); the hiding read again afterwards is stale and changes nothing.
    await calc.feed(hiding(schooling, False, 2), hiding(schooling, True, 1))
    assert await state(calc, pfmp.pfmp_id) == ("ready", [])
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.pfmp_id, requested.amount_cents) == (pfmp.pfmp_id, 20000)
    stale = await calc.db.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'SchoolingHiddenChanged'")
    assert stale == 1


async def test_the_pfmps_of_a_hidden_schooling_leave_the_yearly_cap_to_the_others_of_the_pool(calc: Calc) -> None:
    # The producer reported the learner twice in the same MEF and year, then retracted one schooling.
    retracted = await calc.schooling()
    kept = await calc.schooling(student_id=retracted.student_id, with_decision=True)
    first = calc.pfmp(retracted, 50, length=70)  # 50 × 20 € = 1,000 €: the whole cap
    second = calc.pfmp(kept, 50, start=date(2026, 1, 5), length=70)
    await calc.record(first)
    await calc.record(second)
    assert (await calc.amount(first.pfmp_id), await calc.amount(second.pfmp_id)) == (1000, 0)
    await calc.feed(hiding(retracted, True, 1))
    assert (await calc.amount(first.pfmp_id), await calc.amount(second.pfmp_id)) == (None, 1000)
