"""The composition root: what the calculator consumes, and the §5.4 switch read from the environment."""

from __future__ import annotations

import pytest
from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.entrypoints.service import build_spec
from aplypro_contracts.topics import ASP_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS


def test_one_subscription_reads_students_pfmp_and_asp_returns_so_a_pool_has_one_writer() -> None:
    [subscription] = build_spec(CalculatorSettings()).subscriptions
    assert list(subscription.topics) == [STUDENTS_EVENTS, PFMP_EVENTS, ASP_EVENTS]
    assert set(subscription.handlers) == {
        "SchoolingOpened", "PfmpRecorded", "PfmpValidated", "PfmpRectified", "PaymentRequestSent",
        "PaymentRequestStateChanged"}
    assert subscription.batch_handler is not None


def test_negative_rectifications_are_off_unless_the_environment_turns_them_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APLYPRO_CALCULATOR_NEGATIVE_RECTIFICATIONS_ENABLED", raising=False)
    assert CalculatorSettings().negative_rectifications_enabled is False
    monkeypatch.setenv("APLYPRO_CALCULATOR_NEGATIVE_RECTIFICATIONS_ENABLED", "true")
    assert CalculatorSettings().negative_rectifications_enabled is True
    assert len(build_spec(CalculatorSettings()).background) == 1  # the start-up release of parked requests
