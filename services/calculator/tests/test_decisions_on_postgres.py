"""The décision d'attribution gates on the real PostgreSQL: a request waits for its DA, is released by the
documents service's DocumentIssued (or a DocumentReady whose issue was not seen) without anyone asking, and is never handed over while its DA is withdrawn,
whatever order the events arrive in."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from aplypro_contracts import PfmpValidated

from .calculator_world import PREMIERE, Calc

pytestmark = pytest.mark.integration

OCT, FEB = date(2025, 10, 6), date(2026, 2, 2)


async def test_a_request_without_its_decision_is_blocked_and_released_when_the_decision_is_issued(
    calc: Calc,
) -> None:
    schooling = await calc.schooling(with_decision=False)
    mark = await calc.mark()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["reasons"]) == ("incomplete", ["missing_attributive_decision"])
    [blocked] = await calc.events(mark, "PaymentRequestBlocked")
    assert (blocked.reasons, blocked.schema_version) == (("missing_attributive_decision",), 5)
    assert await calc.events(mark, "PaymentRequested") == []

    # The documents service issues the DA: the same request is ready, with its amount, and handed over.
    mark = await calc.mark()
    await calc.feed(calc.decision(schooling))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["reasons"], request["amount_cents"]) == ("ready", [], 20000)
    [requested] = await calc.events(mark, "PaymentRequested")
    assert requested.payment_request_id == request["payment_request_id"]


async def test_a_request_waiting_for_its_decision_is_released_by_its_issue_and_its_pdf_changes_nothing(
    calc: Calc,
) -> None:
    """The DA exists from its issue (documents.md §3): DocumentIssued releases the request, the renderer is off
    the payment's path; the DocumentReady of the same version, later, is the same fact: no event, nothing stale."""
    schooling = await calc.schooling(with_decision=False)
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["reasons"]) == ("incomplete", ["missing_attributive_decision"])

    mark = await calc.mark()
    await calc.feed(calc.issued(schooling))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["reasons"], request["amount_cents"]) == ("ready", [], 20000)
    [requested] = await calc.events(mark, "PaymentRequested")
    assert requested.payment_request_id == request["payment_request_id"]

    mark = await calc.mark()
    await calc.feed(calc.decision(schooling))
    assert await calc.events(mark) == []
    assert await calc.requests(pfmp.pfmp_id) == [request]
    assert await calc.db.fetchval("SELECT count(*) FROM stale_events") == 0


async def test_a_decision_read_before_its_schooling_and_pfmp_lets_the_request_be_ready_at_once(calc: Calc) -> None:
    schooling = await calc.schooling(with_decision=False)
    student = schooling.student_id
    # Another topic: the DA of a second schooling arrives before the calculator knows the schooling.
    later = schooling.model_copy(update={"schooling_id": uuid.uuid4(), "student_id": student})
    await calc.feed(calc.decision(later))
    await calc.feed(later)
    pfmp = await calc.validate(calc.pfmp(later, 10))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["reasons"]) == ("ready", [])


async def test_a_withdrawn_decision_blocks_its_requests_for_good(calc: Calc) -> None:
    schooling = await calc.schooling()
    # The retrait is read in the same batch as the validation, after it: the request is still never ready.
    pfmp = calc.pfmp(schooling, 10).model_copy(update={"status": "validated"})
    mark = await calc.mark()
    await calc.feed(PfmpValidated(producer="pfmp", pfmp=pfmp), calc.decision(schooling, "retrait"))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["reasons"]) == ("incomplete", ["attributive_decision_cancelled"])
    assert await calc.events(mark, "PaymentRequested") == []

    # A reissued DA (a newer version) read after the retrait, and a replay of the first: still blocked.
    await calc.feed(calc.decision(schooling, "attribution", version=2), calc.decision(schooling, "attribution"))
    await calc.record(pfmp, day_count=9)  # any event of the pool re-evaluates the request
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["reasons"]) == ("incomplete", ["attributive_decision_cancelled"])
    assert await calc.events(mark, "PaymentRequested") == []
    stale = await calc.db.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'DocumentReady'")
    assert stale == 1  # the replayed version 1


async def test_a_retrait_read_before_the_pfmp_blocks_its_first_evaluation(calc: Calc) -> None:
    schooling = await calc.schooling(with_decision=False)
    await calc.feed(calc.decision(schooling, "retrait"))  # the attribution's own announcement is still late
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert (request["state"], request["reasons"]) == ("incomplete", ["attributive_decision_cancelled"])


async def test_a_transferred_student_is_paid_once_the_earlier_decision_is_abrogated(calc: Calc) -> None:
    # Première until 4 January, terminale from 5 January: two MEFs in one year, both DAs issued.
    premiere = await calc.schooling(mef=PREMIERE, end=date(2026, 1, 4))
    terminale = await calc.schooling(student_id=premiere.student_id, start=date(2026, 1, 5))
    first = await calc.validate(calc.pfmp(premiere, 10, start=OCT, length=12))
    second = await calc.validate(calc.pfmp(terminale, 10, start=FEB, length=12))
    for pfmp in (first, second):
        [request] = await calc.requests(pfmp.pfmp_id)
        assert (request["state"], request["reasons"]) == ("incomplete", ["needs_abrogated_attributive_decision"])

    # The première DA is abrogated: both requests are released, each in its own pool.
    mark = await calc.mark()
    await calc.feed(calc.decision(premiere, "abrogation"))
    assert [(await calc.requests(p.pfmp_id))[0]["state"] for p in (first, second)] == ["ready", "ready"]
    assert {e.pfmp_id for e in await calc.events(mark, "PaymentRequested")} == {first.pfmp_id, second.pfmp_id}


async def test_a_recovery_on_a_withdrawn_decision_is_not_held_back_by_the_gate(calc: Calc) -> None:
    # Paid 150 €, then the DA is withdrawn and the PFMP rectified to 0 days (calculation.md §5.5).
    schooling = await calc.schooling(mef=PREMIERE)
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    await calc.pay(pfmp, Decimal("150.00"))
    await calc.feed(calc.decision(schooling, "retrait"))
    await calc.feed(calc.rectified(pfmp, 0, by="system"), handlers=calc.with_switch(True))
    request = (await calc.requests(pfmp.pfmp_id))[-1]
    assert (request["kind"], request["state"], request["amount_cents"]) == ("rectification", "ready", 0)
