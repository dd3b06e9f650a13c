"""The composition root: what the calculator consumes, and the §5.4 switch and §5 cool-down read from the
environment."""

from __future__ import annotations

import pytest
from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.entrypoints.service import build_handlers, build_spec
from aplypro_contracts.topics import ASP_EVENTS, DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS, STUDENTS_RIBS
from pydantic import ValidationError


def test_one_subscription_reads_students_pfmp_asp_returns_ribs_and_decisions_so_a_pool_has_one_writer() -> None:
    [subscription] = build_spec(CalculatorSettings()).subscriptions
    assert list(subscription.topics) == [STUDENTS_EVENTS, PFMP_EVENTS, ASP_EVENTS, STUDENTS_RIBS, DOCUMENTS_EVENTS]
    assert set(subscription.handlers) == {
        "SchoolingOpened", "SchoolingChanged", "SchoolingClosed", "SchoolingReopened", "PfmpRecorded", "PfmpValidated", "PfmpRectified", "PaymentRetryRequested",
        "RibRecorded", "PaymentRequestSent", "PaymentRequestStateChanged",
        # an address change retries a recognised rejection (issue 10); each carries the full identity
        "StudentRegistered", "StudentIdentityChanged", "StudentAddressChanged",
        "DocumentReady",  # the décision d'attribution gates (issue 10)
        "DocumentIssued",  # the same gates from the DA's issue: a payment never waits for its PDF (issue 12)
        "SchoolingExtended",  # pfmp's report: the schooling-dates gate (issue 10)
        "SchoolingHiddenChanged",  # the students' hiding (removed, or retracted): reason hidden_schooling
        "StudentsMerged",  # two students merged: one yearly cap for the pair (imports.md §5.8)
        "ExclusionChanged",  # an exclusion set in the students service: reason excluded_schooling
        "PaymentRequestHeld",  # the gateway's reasons, shown by explain and status (issue 10)
        "PaymentRequestsMoved"}  # the gateway's three single events, many requests in one (issue 12)
    assert subscription.batch_handler is not None


def test_negative_rectifications_are_off_unless_the_environment_turns_them_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APLYPRO_CALCULATOR_NEGATIVE_RECTIFICATIONS_ENABLED", raising=False)
    assert CalculatorSettings().negative_rectifications_enabled is False
    monkeypatch.setenv("APLYPRO_CALCULATOR_NEGATIVE_RECTIFICATIONS_ENABLED", "true")
    assert CalculatorSettings().negative_rectifications_enabled is True
    background = build_spec(CalculatorSettings()).background
    assert [task.__name__ for task in background] == ["release_parked_requests", "evaluate_due_requests"]


def test_requests_are_due_at_the_next_midnight_unless_the_environment_says_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("COOLDOWN", "INTERVAL_S", "BATCH_SIZE"):
        monkeypatch.delenv(f"APLYPRO_CALCULATOR_EVALUATION_{name}", raising=False)
    settings = CalculatorSettings()
    assert (settings.evaluation_cooldown, settings.evaluation_interval_s, settings.evaluation_batch_size) == (
        "next_midnight", 30, 1000)
    monkeypatch.setenv("APLYPRO_CALCULATOR_EVALUATION_COOLDOWN", "none")
    monkeypatch.setenv("APLYPRO_CALCULATOR_EVALUATION_INTERVAL_S", "0.5")
    settings = CalculatorSettings()
    assert (settings.evaluation_cooldown, settings.evaluation_interval_s) == ("none", 0.5)
    assert build_handlers(settings).evaluation_cooldown == "none"
    monkeypatch.setenv("APLYPRO_CALCULATOR_EVALUATION_COOLDOWN", "tomorrow")
    with pytest.raises(ValidationError):
        CalculatorSettings()
