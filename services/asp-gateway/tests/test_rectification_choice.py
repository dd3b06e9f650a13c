"""Which record a rectified PFMP's request leaves as (domain/rectification.py, asp-exchange.md §8.1): pure
decisions on what the ASP returned for the PFMP; and the report of an address-correction answer (§5.5)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from aplypro_asp_gateway.domain.address_corrections import check_corrections
from aplypro_asp_gateway.domain.asp_errors import AspReason
from aplypro_asp_gateway.domain.model import AspIds, Blocked, PaymentRecord, PendingRequest
from aplypro_asp_gateway.domain.modification import prepare_request
from aplypro_asp_gateway.domain.rectification import modification_for
from aplypro_asp_gateway.domain.return_lines import AspIds as LineIds
from aplypro_asp_gateway.domain.return_lines import LineState, ReturnKind, ReturnLine
from aplypro_asp_gateway.domain.return_match import RequestView

from .conftest import PARAMS, lea_request

IDS = AspIds(individu="1234567", dossier="7654321", prestation="9876543")


def rectified(**changes: Any) -> PendingRequest:
    student = lea_request().student
    assert student is not None
    request = lea_request(rectification=True, first_payment_sent=True, amount_cents=45000,
                          student=replace(student, address_lines=("3 rue de Nantes",)))
    return replace(request, **changes)


def test_a_rectification_without_the_asp_ids_waits_for_them() -> None:
    outcome = prepare_request(rectified(), PARAMS)
    assert isinstance(outcome, Blocked)
    assert outcome.reasons == ("awaiting_asp_ids",)


def test_a_rectification_waits_while_another_request_of_the_pfmp_is_on_its_way() -> None:
    outcome = prepare_request(rectified(asp_ids=IDS, asp_paid_cents=30000, pfmp_in_flight=True), PARAMS)
    assert isinstance(outcome, Blocked)
    assert outcome.reasons == ("awaiting_asp_payment",)


def test_a_rectification_of_a_pfmp_the_asp_never_paid_is_blocked() -> None:
    outcome = prepare_request(rectified(asp_ids=IDS), PARAMS)
    assert isinstance(outcome, Blocked)
    assert outcome.reasons == ("rectification_of_unpaid_pfmp",)


def test_with_the_ids_and_the_paid_total_known_it_leaves_as_a_modification() -> None:
    request = rectified(asp_ids=IDS, asp_paid_cents=30000)
    record = prepare_request(request, PARAMS)
    assert isinstance(record, PaymentRecord)
    assert (record.asp_ids, record.variant, record.amount_euros, record.first_payment) == (
        IDS, "rectification_up", 450, False)


def test_a_first_payment_is_never_a_modification_even_with_ids_known() -> None:
    # A new PFMP of an integrated dossier: not a rectification, it creates its prestation.
    assert modification_for(lea_request(asp_ids=IDS, asp_paid_cents=30000)) is None


def view(**changes: Any) -> RequestView:
    base = RequestView(payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(), student_id=uuid.uuid4(),
                       schooling_id=uuid.uuid4(), state="paid", individual="1", dossier="2", prestation="3")
    return replace(base, **changes)


def test_an_address_correction_answer_lists_each_id_that_differs_and_reports_rejects() -> None:
    kind = ReturnKind.CORRECTION_INTEGRATIONS
    lines = [ReturnLine(kind, 2, LineState.ADDRESS_CORRECTED, 10, asp_ids=LineIds("1", "2", "3")),
             ReturnLine(kind, 3, LineState.ADDRESS_CORRECTED, 11, asp_ids=LineIds("1", "9", "3")),
             ReturnLine(ReturnKind.CORRECTION_REJECTS, 2, LineState.ADDRESS_REJECTED, 12,
                        reason=AspReason("unknown_id", "identifiant inconnu", "rien")),
             ReturnLine(kind, 4, LineState.ADDRESS_CORRECTED, 99, asp_ids=LineIds("1", "2", "3"))]
    reports = check_corrections(lines, {10: view(), 11: view(), 12: view()})
    assert [(r.record_id, r.outcome, r.mismatches) for r in reports] == [
        (10, "confirmed", ()), (11, "ids_mismatch", ("dossier: expected 2, got 9",)), (12, "rejected", ()),
        (99, "unknown_record", ())]
