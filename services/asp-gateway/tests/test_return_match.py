"""What each return line does to the request it names (domain/return_match.py), without a database: forward
only, a repeated answer is a duplicate, a conflicting one is reported with its reason."""

from __future__ import annotations

import uuid
from datetime import date

from aplypro_asp_gateway.domain.asp_errors import classify_reject
from aplypro_asp_gateway.domain.return_lines import AspIds, LineState, ReturnKind, ReturnLine
from aplypro_asp_gateway.domain.return_match import (
    HeldIds,
    RequestView,
    decide_answers,
    decide_payments,
    numadm_differs,
)

PFMP_NUMBER = "ENPUA1B2C3D4E52025001"


def view(state: str = "sent", **changes: object) -> RequestView:
    request = RequestView(payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(), student_id=uuid.uuid4(),
                          schooling_id=uuid.uuid4(), state=state, pfmp_number=PFMP_NUMBER)
    for name, value in changes.items():
        setattr(request, name, value)
    return request


def integrated_line(record_id: int, prestation: str = "9876610", individual: str = "1234890",
                    numadm: str | None = "DOSS") -> ReturnLine:
    return ReturnLine(ReturnKind.INTEGRATIONS, 2, LineState.INTEGRATED, record_id, numadm,
                      asp_ids=AspIds(individual=individual, dossier="7654402", prestation=prestation))


def rejected_line(record_id: int, motif: str, line_no: int = 2) -> ReturnLine:
    return ReturnLine(ReturnKind.REJECTS, line_no, LineState.REJECTED, record_id, reason=classify_reject(motif))


def paid_line(prestation: str, cents: int = 30000, on: date = date(2026, 6, 5)) -> ReturnLine:
    return ReturnLine(ReturnKind.PAYMENTS, 1, LineState.PAID, asp_ids=AspIds(prestation=prestation),
                      net_cents=cents, paid_on=on)


def test_the_numadm_is_compared_only_when_it_looks_like_one_of_ours() -> None:
    assert not numadm_differs("DOSS", PFMP_NUMBER)  # the mocks' placeholder
    assert not numadm_differs(None, PFMP_NUMBER)
    assert not numadm_differs(PFMP_NUMBER, PFMP_NUMBER)
    assert not numadm_differs(PFMP_NUMBER[:-2], PFMP_NUMBER)  # the DA number
    assert numadm_differs("ENPUZZZZZZZZZZ20250", PFMP_NUMBER)


def test_an_integration_moves_a_sent_request_once_and_a_repeat_is_a_duplicate() -> None:
    request = view()
    [first, again] = decide_answers([integrated_line(1), integrated_line(1)], {1: request}, HeldIds(), True)
    assert first.status == "applied"
    assert first.change is not None
    assert (first.change.expected, first.change.state) == ("sent", "integrated")
    assert (again.status, again.change) == ("duplicate", None)
    # Other ids for the same record: a conflict, reported.
    [changed] = decide_answers([integrated_line(1, prestation="1")], {1: request}, HeldIds(), True)
    assert (changed.status, changed.why) == ("unmatched", "asp_ids_changed")


def test_an_id_already_held_by_another_object_is_a_conflict() -> None:
    held, other = HeldIds(), view("integrated", prestation="9876610", individual="1", dossier="2")
    held.take(other)
    [clash] = decide_answers([integrated_line(7)], {7: view()}, held, True)
    assert (clash.status, clash.why) == ("unmatched", "prestation_id_held_by_another")
    # The same student known under another ASP individual: a conflict too.
    student = view("paid", individual="555")
    held.take(student)
    mine = view(student_id=student.student_id)
    [changed] = decide_answers([integrated_line(8, prestation="42")], {8: mine}, held, True)
    assert (changed.status, changed.why) == ("unmatched", "individual_id_changed")


def test_a_record_rejected_then_integrated_is_a_conflict_and_rejects_keep_every_reason() -> None:
    request = view()
    outcomes = decide_answers([rejected_line(3, "Le RIB X est Invalide"),
                               rejected_line(3, "La coordonnée de paiement est invalide", 3),
                               integrated_line(3)], {3: request}, HeldIds(), True)
    assert [(o.status, o.why) for o in outcomes] == [("applied", None), ("applied", None),
                                                     ("unmatched", "integrated_and_rejected")]
    change = outcomes[0].change
    assert change is not None
    assert change.reasons == ("invalid_rib", "invalid_payment_coordinates")
    assert outcomes[1].change is None  # one move for the record


def test_lines_of_an_unknown_upload_or_record_are_unmatched() -> None:
    [unknown] = decide_answers([integrated_line(9)], {}, HeldIds(), False)
    [stray] = decide_answers([integrated_line(9)], {}, HeldIds(), True)
    assert (unknown.why, stray.why) == ("upload_unknown", "record_not_in_file")


def test_a_payment_pays_the_integrated_request_once_and_never_one_paid_already() -> None:
    request = view("integrated", prestation="9876610")
    [paid, again, second] = decide_payments([paid_line("9876610"), paid_line("9876610"),
                                             paid_line("9876610", cents=100)], {"9876610": [request]})
    assert paid.change is not None
    assert (paid.change.state, paid.change.paid_cents, paid.change.paid_on) == ("paid", 30000, date(2026, 6, 5))
    assert again.status == "duplicate"
    # Another amount for a request already paid: never a second payment, reported.
    assert (second.status, second.why) == ("unmatched", "no_integrated_request")


def test_a_recovery_order_is_paid_flagged_with_the_amount_claimed() -> None:
    request = view("integrated", prestation="9870001")
    line = ReturnLine(ReturnKind.RECOVERY_ORDERS, 1, LineState.RECOVERY, asp_ids=AspIds(prestation="9870001"),
                      claimed_cents=15000, order_posted_on=date(2026, 6, 12))
    [outcome] = decide_payments([line], {"9870001": [request]})
    assert outcome.change is not None
    assert (outcome.change.state, outcome.change.recovery, outcome.change.paid_cents) == ("paid", True, 15000)
