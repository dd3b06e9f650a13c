"""The calculator's payment-request rules (lifecycles.md §2, §4, §5), as plain functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from aplypro_calculator.domain.requests import (
    ASP_TRANSITIONS,
    PARIS,
    RequestFacts,
    awaiting_evaluation,
    blocking_reasons,
    due_at,
    evaluate,
    may_create,
    paid_mismatch,
)

OK = RequestFacts(
    pfmp_status="validated", deleted=False, day_count=10, start_date=date(2025, 10, 6),
    end_date=date(2025, 10, 19), amount_cents=20000, priced=True, excluded=False, pool_over_cap=False,
    paid_base_cents=None, negative_enabled=False,
)
RECTIFIED = replace(OK, pfmp_status="rectified", paid_base_cents=20000)


def test_a_request_that_passes_every_check_is_ready() -> None:
    assert (evaluate(OK).state, evaluate(OK).reasons) == ("ready", ())


@pytest.mark.parametrize(("change", "reasons"), [
    ({"amount_cents": 0}, ("pfmp_amount",)),  # 0 on a PFMP that is not rectified
    ({"amount_cents": None}, ("pfmp_amount",)),
    ({"pool_over_cap": True}, ("pfmp",)),
    ({"day_count": 15}, ("pfmp",)),  # 15 days in 14 calendar days
    ({"deleted": True}, ("pfmp",)),
    ({"excluded": True, "amount_cents": None}, ("pfmp_amount", "excluded_schooling")),
    ({"priced": False, "amount_cents": None}, ("pfmp_amount", "mef_without_bareme")),
])
def test_each_failing_check_gives_its_reason(change: dict[str, object], reasons: tuple[str, ...]) -> None:
    verdict = evaluate(replace(OK, **change))  # type: ignore[arg-type]
    assert (verdict.state, verdict.reasons) == ("incomplete", reasons)


def test_a_rectified_pfmp_may_be_paid_zero_and_a_lower_total_is_parked_while_switched_off() -> None:
    lower = replace(RECTIFIED, amount_cents=0, day_count=0)
    assert (evaluate(lower).state, evaluate(lower).reasons, evaluate(lower).parked) == (
        "pending", ("negative_rectification",), True)
    assert evaluate(replace(lower, negative_enabled=True)).state == "ready"
    assert evaluate(replace(RECTIFIED, amount_cents=30000)).state == "ready"  # a complement


def test_parking_never_hides_the_other_reasons() -> None:
    verdict = evaluate(replace(RECTIFIED, amount_cents=0, day_count=0, pool_over_cap=True))
    assert (verdict.state, verdict.reasons, verdict.parked) == (
        "incomplete", ("pfmp", "negative_rectification"), False)


def test_a_validated_pfmp_gets_its_first_request_only_once_its_amount_is_positive() -> None:
    assert may_create("validated", False, 100, has_request=False)
    assert not may_create("validated", False, 0, has_request=False)
    assert not may_create("validated", False, None, has_request=False)
    assert not may_create("validated", False, 100, has_request=True)  # a retry is asked for, not automatic
    assert not may_create("completed", False, 100, has_request=False)
    assert not may_create("rectified", False, 100, has_request=False)  # its request comes with the rectification
    assert not may_create("validated", True, 100, has_request=False)


@pytest.mark.parametrize(("paid", "sent", "base", "mismatch"), [
    (Decimal("200.00"), 20000, None, False),
    (Decimal("200"), 20000, None, False),
    (Decimal("199.99"), 20000, None, True),  # never truncated to 199 or rounded to 200
    (Decimal("200.50"), 20000, None, True),
    (None, 20000, None, True),  # missing MTNET is not 0 (D6)
    (Decimal("75.00"), 7500, 4500, False),  # a complement: the new total
    (Decimal("30.00"), 7500, 4500, False),  # or the difference (open point, calculation.md §8)
    (Decimal("45.00"), 7500, 4500, True),
])
def test_mtnet_is_checked_against_what_was_sent(paid: Decimal | None, sent: int, base: int | None,
                                                mismatch: bool) -> None:
    assert paid_mismatch(paid, sent, base) is mismatch


def test_asp_returns_only_move_a_request_forward() -> None:
    assert "ready" in ASP_TRANSITIONS["sent"]
    assert "integrated" in ASP_TRANSITIONS["paid"]
    assert all("paid" not in sources and "pending" not in sources for sources in ASP_TRANSITIONS.values())
    assert blocking_reasons(OK) == ()


@pytest.mark.parametrize(("validated", "due"), [
    # Winter (UTC+1): any time of the Paris day, up to 23:59:59, is due at the next Paris midnight.
    (datetime(2026, 3, 10, 0, 0, tzinfo=PARIS), datetime(2026, 3, 10, 23, 0, tzinfo=UTC)),
    (datetime(2026, 3, 10, 22, 59, 59, tzinfo=UTC), datetime(2026, 3, 10, 23, 0, tzinfo=UTC)),
    (datetime(2026, 3, 10, 23, 0, tzinfo=UTC), datetime(2026, 3, 11, 23, 0, tzinfo=UTC)),  # already the 11th
    # The nights the clocks change (29 March, 25 October 2026): midnight keeps the offset of the evening.
    (datetime(2026, 3, 28, 21, 0, tzinfo=PARIS), datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),
    (datetime(2026, 3, 29, 21, 0, tzinfo=PARIS), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
    (datetime(2026, 10, 24, 21, 0, tzinfo=PARIS), datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),
    (datetime(2026, 10, 25, 21, 0, tzinfo=PARIS), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
])
def test_a_request_is_due_at_the_next_midnight_in_paris_after_the_validation(
    validated: datetime, due: datetime,
) -> None:
    assert due_at(validated, "next_midnight") == due


def test_without_cool_down_or_validation_time_a_request_is_due_at_once() -> None:
    assert due_at(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), "none") is None
    assert due_at(None, "next_midnight") is None  # validated before the cool-down existed


def test_only_a_pending_request_never_evaluated_and_not_due_awaits_its_evaluation() -> None:
    due = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
    before, at = datetime(2026, 3, 10, 22, 59, 59, tzinfo=UTC), due
    assert awaiting_evaluation("pending", [], due, before)
    assert not awaiting_evaluation("pending", [], due, at)
    assert not awaiting_evaluation("pending", [], None, before)  # due at once
    assert not awaiting_evaluation("pending", ["negative_rectification"], due, before)  # evaluated: parked
    assert not awaiting_evaluation("incomplete", ["pfmp_amount"], due, before)
    assert not awaiting_evaluation("ready", [], due, before)
