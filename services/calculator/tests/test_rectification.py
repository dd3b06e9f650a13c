"""Rectifications, day-count bounds and over-cap repair: calculation.md §3.5, §5, examples 16, 30–40, 43."""

from __future__ import annotations

from datetime import date

import pytest
from aplypro_calculator.domain.pool import PoolPfmp, allocate
from aplypro_calculator.domain.rectification import (
    InvalidDayCount,
    PaidPfmp,
    RectificationOutcome,
    plan_over_cap_repair,
    rectify,
    validate_day_count,
)

E = 100
OCT_8, OCT_13 = date(2025, 10, 8), date(2025, 10, 13)


# --- §3.5 day-count bounds, example 16 ------------------------------------------------------------


@pytest.mark.parametrize("days", [6, 5, 1])
def test_example_16_a_day_count_within_the_calendar_days_is_accepted(days: int) -> None:
    assert validate_day_count(days, OCT_8, OCT_13, rectification=False) == days


@pytest.mark.parametrize("days", [8, 7])
def test_example_16_more_days_than_calendar_days_are_rejected_even_in_a_rectification(days: int) -> None:
    for rectification in (False, True):
        with pytest.raises(InvalidDayCount) as caught:
            validate_day_count(days, OCT_8, OCT_13, rectification=rectification)
        assert caught.value.code == "day_count_above_calendar_days"


def test_example_16_zero_days_only_in_a_rectification() -> None:
    with pytest.raises(InvalidDayCount) as caught:
        validate_day_count(0, OCT_8, OCT_13, rectification=False)
    assert caught.value.code == "day_count_zero"
    assert validate_day_count(0, OCT_8, OCT_13, rectification=True) == 0


@pytest.mark.parametrize(
    ("days", "code"),
    [(-1, "day_count_negative"), (2.5, "day_count_not_integer"), ("3", "day_count_not_integer"),
     (None, "day_count_not_integer"), (True, "day_count_not_integer"), (3.0, "day_count_not_integer")],
)
def test_negative_and_non_integer_day_counts_are_rejected_with_a_stable_code(days: object, code: str) -> None:
    with pytest.raises(InvalidDayCount) as caught:
        validate_day_count(days, OCT_8, OCT_13, rectification=True)
    assert caught.value.code == code
    assert isinstance(caught.value, ValueError)


def test_a_one_day_pfmp_accepts_one_day_and_reversed_dates_are_rejected() -> None:
    assert validate_day_count(1, OCT_8, OCT_8, rectification=False) == 1
    with pytest.raises(InvalidDayCount) as caught:
        validate_day_count(1, OCT_13, OCT_8, rectification=False)
    assert caught.value.code == "dates_out_of_order"


def test_the_day_count_does_not_depend_on_the_amount() -> None:
    # 40 days at 20 € with a cap of 600 is a valid entry priced 600 (§3.5).
    assert validate_day_count(40, date(2025, 10, 1), date(2025, 11, 30), rectification=False) == 40


# --- §5.2–5.4 outcomes, examples 30–35 and 43 -----------------------------------------------------


def test_example_30_a_decrease_of_10_is_below_the_recovery_threshold() -> None:
    outcome = rectify(90 * E, 80 * E, negative_enabled=True, initiated_by="user")
    assert (outcome.kind, outcome.code, outcome.difference_cents) == ("refused", "below_recovery_threshold", -10 * E)


def test_example_31_an_unchanged_amount_is_nothing_to_correct() -> None:
    outcome = rectify(90 * E, 90 * E, negative_enabled=True, initiated_by="user")
    assert (outcome.kind, outcome.code) == ("refused", "nothing_to_correct")


def test_example_32_a_decrease_of_70_is_a_recovery_refused_or_parked_while_switched_off() -> None:
    assert rectify(90 * E, 20 * E, negative_enabled=True, initiated_by="user") == RectificationOutcome(
        "recovery", 90 * E, 20 * E
    )
    user = rectify(90 * E, 20 * E, negative_enabled=False, initiated_by="user")
    assert (user.kind, user.code) == ("refused", "negative_rectification_disabled")
    system = rectify(90 * E, 20 * E, negative_enabled=False, initiated_by="system")
    assert (system.kind, system.parked_reason, system.difference_cents) == (
        "recovery", "negative_rectification", -70 * E,
    )
    assert system.parked


def test_example_33_an_increase_is_a_complement_whatever_its_size() -> None:
    outcome = rectify(45 * E, 75 * E, negative_enabled=False, initiated_by="user")
    assert (outcome.kind, outcome.new_cents, outcome.difference_cents) == ("complement", 75 * E, 30 * E)
    assert rectify(45 * E, 46 * E, negative_enabled=False, initiated_by="user").kind == "complement"


def test_example_34_a_decrease_of_exactly_30_is_refused_and_31_goes_through() -> None:
    assert rectify(45 * E, 15 * E, negative_enabled=True, initiated_by="user").code == "below_recovery_threshold"
    assert rectify(46 * E, 15 * E, negative_enabled=True, initiated_by="user").kind == "recovery"


def test_example_35_a_full_cancellation_is_a_recovery_of_the_whole_amount() -> None:
    outcome = rectify(45 * E, 0, negative_enabled=False, initiated_by="system")
    assert (outcome.kind, outcome.new_cents, outcome.parked_reason) == ("recovery", 0, "negative_rectification")


def test_a_recovery_from_nine_to_five_days_is_never_mistaken_for_an_increase() -> None:
    # The existing system read a missing MTNET as 0 and let this through as upward (D6).
    assert rectify(90 * E, 50 * E, negative_enabled=False, initiated_by="system").kind == "recovery"


def test_example_43_a_director_is_refused_up_front_while_a_withdrawal_is_recorded_and_parked() -> None:
    # 10/100, 9 days paid (90 €), rectified to 0 days while downward corrections are switched off.
    new = allocate(10 * E, 100 * E, [PoolPfmp("a", OCT_8, OCT_13, 1, 0, ever_paid=True)]).get("a").amount_cents
    assert new == 0
    director = rectify(90 * E, new, negative_enabled=False, initiated_by="user")
    withdrawal = rectify(90 * E, new, negative_enabled=False, initiated_by="system")
    assert (director.kind, director.code) == ("refused", "negative_rectification_disabled")
    assert (withdrawal.kind, withdrawal.parked_reason) == ("recovery", "negative_rectification")


def test_a_small_paid_amount_cannot_be_recovered_by_a_withdrawal_either() -> None:
    outcome = rectify(30 * E, 0, negative_enabled=True, initiated_by="system")
    assert outcome.code == "below_recovery_threshold"


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        rectify(-1, 0, negative_enabled=True, initiated_by="user")


# --- §5.6 over-cap repair, examples 37–40 ---------------------------------------------------------


def paid(*amounts_in_euros: int) -> list[PaidPfmp]:
    return [
        PaidPfmp(f"p{i}", euros * E, date(2025, 10, 1 + i), date(2025, 10, 1 + i), i)
        for i, euros in enumerate(amounts_in_euros)
    ]


def test_example_37_the_first_of_two_equal_pfmps_is_reduced_by_the_excess() -> None:
    plan = plan_over_cap_repair(300 * E, paid(170, 170))
    assert plan.excess_cents == 40 * E
    assert [(r.pfmp_id, r.outcome.new_cents, r.recovery_cents) for r in plan.reductions] == [("p0", 130 * E, 40 * E)]
    assert plan.remaining_excess_cents == 0


def test_example_38_two_of_eight_pfmps_are_set_to_zero() -> None:
    plan = plan_over_cap_repair(300 * E, paid(*[50] * 8))
    assert [(r.pfmp_id, r.outcome.new_cents) for r in plan.reductions] == [("p0", 0), ("p1", 0)]
    assert plan.committed_cents - sum(r.recovery_cents for r in plan.reductions) == 300 * E


def test_example_39_an_excess_of_30_or_less_is_left_alone() -> None:
    plan = plan_over_cap_repair(300 * E, paid(110, 110, 110))
    assert plan.reductions == []
    assert plan.remaining_excess_cents == 30 * E
    assert plan.steps[-1] == "remaining excess 30 € (30 € or less: done)"


def test_example_40_a_lowered_barème_is_repaired_by_recovering_the_excess() -> None:
    plan = plan_over_cap_repair(600 * E, paid(900))
    (reduction,) = plan.reductions
    assert (reduction.outcome.new_cents, reduction.recovery_cents) == (600 * E, 300 * E)
    # The rectified PFMP then sits in class 2 and the pool prices it at what the plan says.
    after = allocate(90 * E, 600 * E, [PoolPfmp("p0", OCT_8, OCT_13, 0, 10, ever_paid=True)])
    assert after.get("p0").amount_cents == reduction.outcome.new_cents


def test_repair_takes_the_largest_first_and_skips_reductions_of_30_or_less() -> None:
    # cap 300, paid 20 + 250 + 100 = 370: excess 70 comes off the 250 €.
    plan = plan_over_cap_repair(300 * E, paid(20, 250, 100))
    assert [(r.pfmp_id, r.recovery_cents) for r in plan.reductions] == [("p1", 70 * E)]
    # cap 300, committed 400 with only 60 + 20 + 20 paid (the rest is sent, not paid): the small ones are skipped.
    plan = plan_over_cap_repair(300 * E, paid(60, 20, 20), committed_cents=400 * E)
    assert [(r.pfmp_id, r.recovery_cents) for r in plan.reductions] == [("p0", 60 * E)]
    assert plan.remaining_excess_cents == 40 * E
    assert any("skip" in step for step in plan.steps)


def test_repair_reductions_are_parked_while_downward_corrections_are_off() -> None:
    parked = plan_over_cap_repair(300 * E, paid(170, 170))
    released = plan_over_cap_repair(300 * E, paid(170, 170), negative_enabled=True)
    assert parked.reductions[0].outcome.parked_reason == "negative_rectification"
    assert released.reductions[0].outcome.parked_reason is None
    assert "parked" in parked.steps[1]


def test_a_pool_within_its_cap_needs_no_repair() -> None:
    plan = plan_over_cap_repair(300 * E, paid(100, 100))
    assert (plan.excess_cents, plan.reductions, plan.remaining_excess_cents) == (0, [], 0)


def test_the_plan_of_a_pfmp_whose_days_now_price_below_it_is_what_a_rectification_gives() -> None:
    # Rate lowered from 10 € to 4 € after payment: A 90 € (9 days), B 80 € (8 days), C 60 €; cap 100 €.
    a, b, c = (PaidPfmp(name, euros * E, date(2025, 10, 1 + i), date(2025, 10, 1 + i), i, ceiling_cents=days * 4 * E)
               for i, (name, euros, days) in enumerate((("a", 90, 9), ("b", 80, 8), ("c", 60, 6))))
    plan = plan_over_cap_repair(100 * E, [a, b, c])
    # A to 0; B cannot keep 40 € with 8 days at 4 €: its new total is 32 €, a recovery of 48 €, not 40 €.
    assert [(r.pfmp_id, r.outcome.new_cents, r.recovery_cents) for r in plan.reductions] == [
        ("a", 0, 90 * E), ("b", 32 * E, 48 * E)]
    assert plan.remaining_excess_cents == 0
    assert "b: 80 € → 32 €, recovery 48 € (parked: negative_rectification)" in plan.steps
    # Without ceilings (no facts given), the §5.6 arithmetic alone.
    assert [r.outcome.new_cents for r in plan_over_cap_repair(100 * E, [
        PaidPfmp(p.pfmp_id, p.paid_cents, p.start_date, p.end_date, p.created_seq) for p in (a, b, c)]).reductions] == [
        0, 40 * E]
