"""Reason 12 `overlaps` (lifecycles.md §4): a PFMP sharing a day with another payable PFMP of its student is
never paid, whatever let it through. Facts arrive as events, on the real PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest
from aplypro_contracts import PfmpValidated

from .calculator_world import PREMIERE, Calc

pytestmark = pytest.mark.integration

OCT = date(2025, 10, 6)


async def test_a_second_pfmp_of_the_same_period_is_blocked_and_only_one_payment_is_asked(calc: Calc) -> None:
    """The measured bug: the same PFMP recorded twice was paid twice."""
    schooling = await calc.schooling()
    mark = await calc.mark()
    first = await calc.validate(calc.pfmp(schooling, 5, start=OCT, length=10))
    second = await calc.validate(calc.pfmp(schooling, 5, start=OCT, length=10))
    [paid] = await calc.requests(first.pfmp_id)
    [held] = await calc.requests(second.pfmp_id)
    assert (paid["state"], paid["reasons"]) == ("ready", [])
    assert (held["state"], held["reasons"]) == ("incomplete", ["overlaps"])
    assert [e.pfmp_id for e in await calc.events(mark, "PaymentRequested")] == [first.pfmp_id]
    [blocked] = await calc.events(mark, "PaymentRequestBlocked")
    assert (blocked.pfmp_id, blocked.reasons) == (second.pfmp_id, ("overlaps",))


async def test_two_overlapping_pfmps_validated_together_are_both_held_until_one_is_deleted(calc: Calc) -> None:
    schooling = await calc.schooling()
    a, b = calc.pfmp(schooling, 5, start=OCT, length=10), calc.pfmp(schooling, 3, start=OCT + timedelta(9), length=5)
    a, b = (s.model_copy(update={"status": "validated"}) for s in (a, b))  # one day shared: both ends count
    mark = await calc.mark()
    await calc.feed(PfmpValidated(producer="pfmp", pfmp=a), PfmpValidated(producer="pfmp", pfmp=b))
    assert [(r["state"], r["reasons"]) for p in (a, b) for r in await calc.requests(p.pfmp_id)] == [
        ("incomplete", ["overlaps"]), ("incomplete", ["overlaps"])]
    assert await calc.events(mark, "PaymentRequested") == []

    await calc.record(a, deleted=True)  # staff deletes the duplicate: the other one is paid
    [request] = await calc.requests(b.pfmp_id)
    assert (request["state"], request["reasons"]) == ("ready", [])
    assert [e.pfmp_id for e in await calc.events(mark, "PaymentRequested")] == [b.pfmp_id]


async def test_an_overlap_with_a_pfmp_of_another_schooling_blocks_too(calc: Calc) -> None:
    student_id = uuid4()
    terminale = await calc.schooling(student_id=student_id)
    premiere = await calc.schooling(student_id=student_id, mef=PREMIERE)
    await calc.feed(calc.decision(premiere, "abrogation"))  # a change of MEF: the other DA is abrogated
    await calc.validate(calc.pfmp(premiere, 5, start=OCT, length=10))
    later = await calc.validate(calc.pfmp(terminale, 2, start=OCT + timedelta(9), length=3))
    [request] = await calc.requests(later.pfmp_id)
    assert (request["state"], request["reasons"]) == ("incomplete", ["overlaps"])


async def test_an_overlapping_pfmp_not_validated_blocks_nothing(calc: Calc) -> None:
    schooling = await calc.schooling()
    await calc.record(calc.pfmp(schooling, 5, start=OCT, length=10))  # completed: not payable
    deleted = await calc.validate(calc.pfmp(schooling, 5, start=OCT, length=10))
    await calc.record(deleted, deleted=True)
    validated = await calc.validate(calc.pfmp(schooling, 4, start=OCT + timedelta(2), length=5))
    [request] = await calc.requests(validated.pfmp_id)
    assert (request["state"], request["reasons"]) == ("ready", [])


async def test_deleting_one_of_two_overlapping_pfmps_of_two_schoolings_releases_the_other(calc: Calc) -> None:
    student_id = uuid4()
    terminale = await calc.schooling(student_id=student_id)
    premiere = await calc.schooling(student_id=student_id, mef=PREMIERE)
    await calc.feed(calc.decision(premiere, "abrogation"))  # a change of MEF: the other DA is abrogated
    a = calc.pfmp(premiere, 5, start=OCT, length=10).model_copy(update={"status": "validated"})
    b = calc.pfmp(terminale, 2, start=OCT, length=3).model_copy(update={"status": "validated"})
    await calc.feed(PfmpValidated(producer="pfmp", pfmp=a), PfmpValidated(producer="pfmp", pfmp=b))
    assert [r["state"] for p in (a, b) for r in await calc.requests(p.pfmp_id)] == ["incomplete", "incomplete"]

    await calc.record(a, deleted=True)  # only the première pool has news: the terminale one follows
    [request] = await calc.requests(b.pfmp_id)
    assert (request["state"], request["reasons"]) == ("ready", [])
