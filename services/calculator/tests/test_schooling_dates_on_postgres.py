"""`pfmp_outside_schooling_dates` on the real PostgreSQL: a request of a PFMP outside its schooling's dates is
blocked, and released by whichever fix comes (a report, the schooling's dates fixed at the source, the PFMP's
dates moved), without anyone asking; a stale report changes nothing."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from aplypro_contracts import SchoolingExtended, SchoolingOpened

from .calculator_world import Calc

pytestmark = pytest.mark.integration

END, JULY = date(2026, 6, 30), date(2026, 7, 6)  # the student left in June; a PFMP of July (same school year)
BLOCKED = ("incomplete", ["pfmp_outside_schooling_dates"])


def report(schooling: SchoolingOpened, day: date | None, version: int) -> SchoolingExtended:
    return SchoolingExtended(producer="pfmp", schooling_id=schooling.schooling_id, student_id=schooling.student_id,
                             extended_end_date=day, version=version, requested_by="director-1")


async def state(calc: Calc, pfmp_id: uuid.UUID) -> tuple[str, list[str]]:
    request = (await calc.requests(pfmp_id))[-1]
    return request["state"], list(request["reasons"])


async def test_a_report_releases_a_request_blocked_outside_the_schooling_dates(calc: Calc) -> None:
    schooling = await calc.schooling(end=END)
    mark = await calc.mark()
    pfmp = await calc.validate(calc.pfmp(schooling, 10, start=JULY, length=12))
    assert await state(calc, pfmp.pfmp_id) == BLOCKED
    [blocked] = await calc.events(mark, "PaymentRequestBlocked")
    assert (blocked.reasons, blocked.schema_version) == (("pfmp_outside_schooling_dates",), 5)
    assert await calc.events(mark, "PaymentRequested") == []

    # A report too short changes nothing; the director's report to 31 July releases it, priced as before.
    await calc.feed(report(schooling, date(2026, 7, 10), 1))
    assert await state(calc, pfmp.pfmp_id) == BLOCKED
    mark = await calc.mark()
    await calc.feed(report(schooling, date(2026, 7, 31), 2), report(schooling, date(2026, 7, 10), 1))
    assert await state(calc, pfmp.pfmp_id) == ("ready", [])
    [requested] = await calc.events(mark, "PaymentRequested")
    assert (requested.pfmp_id, requested.amount_cents) == (pfmp.pfmp_id, 20000)
    stale = await calc.db.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'SchoolingExtended'")
    assert stale == 1  # version 1 read again after version 2


async def test_schooling_dates_fixed_at_the_source_release_the_request(calc: Calc) -> None:
    schooling = await calc.schooling(end=END)
    pfmp = await calc.validate(calc.pfmp(schooling, 10, start=JULY, length=12))
    assert await state(calc, pfmp.pfmp_id) == BLOCKED
    await calc.feed(schooling.model_copy(update={"end_date": date(2026, 7, 31), "version": 2}))
    assert await state(calc, pfmp.pfmp_id) == ("ready", [])


async def test_pfmp_dates_moved_inside_the_schooling_release_the_request(calc: Calc) -> None:
    schooling = await calc.schooling(end=END)
    pfmp = await calc.validate(calc.pfmp(schooling, 10, start=JULY, length=12))
    assert await state(calc, pfmp.pfmp_id) == BLOCKED
    await calc.record(pfmp, start_date=date(2026, 6, 8), end_date=date(2026, 6, 19))
    assert await state(calc, pfmp.pfmp_id) == ("ready", [])


async def test_a_removed_report_blocks_a_request_not_yet_handed_over(calc: Calc) -> None:
    schooling = await calc.schooling(end=END, with_decision=False)  # held back by its DA meanwhile
    await calc.feed(report(schooling, date(2026, 7, 31), 1))
    pfmp = await calc.validate(calc.pfmp(schooling, 10, start=JULY, length=12))
    assert await state(calc, pfmp.pfmp_id) == ("incomplete", ["missing_attributive_decision"])
    await calc.feed(report(schooling, None, 2))
    assert await state(calc, pfmp.pfmp_id) == ("incomplete", ["pfmp_outside_schooling_dates",
                                                               "missing_attributive_decision"])
