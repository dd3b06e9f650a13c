"""Gates on facts other services own (lifecycles.md §4): ine_not_found (students) and
attributive_decision_cancelled for a request already handed over (documents' retrait)."""

from __future__ import annotations

from collections.abc import Callable

from aplypro_asp_gateway.domain.model import Blocked, Parametrage, PaymentRecord, PendingRequest
from aplypro_asp_gateway.domain.readiness import prepare

MakeRequest = Callable[..., PendingRequest]


def test_a_student_whose_ine_the_api_lost_is_blocked_and_released_once_found(
        make_request: MakeRequest, params: Parametrage) -> None:
    blocked = prepare(make_request(ine_not_found=True), params)
    assert isinstance(blocked, Blocked)
    assert blocked.reasons == ("ine_not_found",)
    assert isinstance(prepare(make_request(ine_not_found=False), params), PaymentRecord)


def test_a_withdrawn_decision_holds_back_a_request_already_handed_over(
        make_request: MakeRequest, params: Parametrage) -> None:
    blocked = prepare(make_request(decision_withdrawn=True), params)
    assert isinstance(blocked, Blocked)
    assert blocked.reasons == ("attributive_decision_cancelled",)


def test_the_retraits_own_rectification_to_zero_is_not_held_by_it(
        make_request: MakeRequest, params: Parametrage) -> None:
    recovery = prepare(make_request(decision_withdrawn=True, rectification=True, amount_cents=0), params)
    assert isinstance(recovery, Blocked)
    assert "attributive_decision_cancelled" not in recovery.reasons
    complement = prepare(make_request(decision_withdrawn=True, rectification=True, amount_cents=40000), params)
    assert isinstance(complement, Blocked)
    assert "attributive_decision_cancelled" in complement.reasons


def test_both_facts_show_together_with_the_other_reasons(make_request: MakeRequest, params: Parametrage) -> None:
    outcome = prepare(make_request(ine_not_found=True, decision_withdrawn=True, rib=None), params)
    assert isinstance(outcome, Blocked)
    assert set(outcome.reasons) == {"ine_not_found", "attributive_decision_cancelled", "missing_rib"}
