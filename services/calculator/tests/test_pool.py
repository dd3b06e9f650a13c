"""The cap pool of calculation.md §3.1–3.3 and worked examples 1–18, 36, 40–42."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aplypro_calculator.domain.bareme import MefRow, Priced, load_bareme
from aplypro_calculator.domain.pool import PoolPfmp, allocate

E = 100  # cents per euro: the examples are written in euros

_SCHOOL_MONTHS = [9, 10, 11, 12, 1, 2, 3, 4, 5, 6]


def pfmp(pfmp_id: str, rank: int, days: int | None, **facts: Any) -> PoolPfmp:
    """A PFMP in month `rank` of the 2025-26 school year (1 = September), created in that order."""
    month = _SCHOOL_MONTHS[rank - 1]
    year = 2025 if month >= 9 else 2026
    facts.setdefault("created_seq", rank)
    return PoolPfmp(pfmp_id, date(year, month, 1), date(year, month, 28), day_count=days, **facts)


def amounts(rate: int, cap: int, *pfmps: PoolPfmp) -> list[int | None]:
    """Amounts in euros, in the order the PFMPs were given."""
    by_id = allocate(rate * E, cap * E, pfmps).amounts()
    return [None if (cents := by_id[p.pfmp_id]) is None else cents // E for p in pfmps]


def test_example_1_the_amount_is_days_times_rate() -> None:
    assert amounts(10, 100, pfmp("a", 1, 3)) == [30]


def test_example_2_the_amount_is_capped() -> None:
    assert amounts(10, 100, pfmp("a", 1, 11)) == [100]


def test_example_3_two_pfmps_share_the_cap() -> None:
    assert amounts(10, 100, pfmp("a", 1, 9), pfmp("b", 2, 2)) == [90, 10]


def test_example_4_once_the_pool_is_exhausted_a_later_pfmp_gets_zero() -> None:
    assert amounts(10, 100, pfmp("a", 1, 9), pfmp("b", 2, 2), pfmp("c", 3, 4)) == [90, 10, 0]


def test_example_5_a_pool_at_its_cap_shows_cap_reached() -> None:
    result = allocate(10 * E, 100 * E, [pfmp("a", 1, 12)])
    assert result.get("a").amount_cents == 100 * E
    assert result.cap_reached
    assert not result.over_cap
    assert not allocate(10 * E, 100 * E, [pfmp("a", 1, 9)]).cap_reached


def test_example_6_editing_the_later_pfmp_uses_what_is_left() -> None:
    assert amounts(15, 200, pfmp("a", 1, 5), pfmp("b", 2, 6)) == [75, 90]
    assert amounts(15, 200, pfmp("a", 1, 5), pfmp("b", 2, 12)) == [75, 125]


def test_examples_7_and_8_formula_then_edit() -> None:
    assert amounts(15, 200, pfmp("a", 1, 3)) == [45]
    assert amounts(15, 200, pfmp("a", 1, 13)) == [195]
    assert amounts(15, 200, pfmp("a", 1, 10)) == [150]


def test_example_9_each_student_has_a_pool() -> None:
    x = allocate(1 * E, 100 * E, [pfmp("x", 1, 12)])
    y = allocate(1 * E, 100 * E, [pfmp("y", 1, 4)])
    assert (x.total_cents, y.total_cents) == (12 * E, 4 * E)
    assert x.total_cents + y.total_cents == 16 * E  # what the class shows to validate


def test_example_10_committed_amounts_are_held_first() -> None:
    # A's request was sent with 100 €; B comes later.
    a = pfmp("a", 1, 10, committed_amount_cents=100 * E)
    result = allocate(10 * E, 100 * E, [a, pfmp("b", 2, 5)])
    assert result.amounts() == {"a": 100 * E, "b": 0}
    assert result.get("a").klass == "committed"


def test_example_11_a_third_pfmp_takes_the_rest() -> None:
    assert amounts(20, 400, pfmp("a", 1, 6), pfmp("b", 2, 4), pfmp("c", 3, 12)) == [120, 80, 200]


def test_example_12_nothing_left_after_a_full_pfmp() -> None:
    assert amounts(20, 400, pfmp("a", 1, 30), pfmp("b", 2, 10)) == [400, 0]


def test_example_13_small_numbers_and_no_day_count() -> None:
    assert amounts(1, 10, pfmp("a", 1, 3)) == [3]
    assert amounts(1, 10, pfmp("a", 1, 200)) == [10]
    assert amounts(1, 10, pfmp("a", 1, None)) == [None]


def test_example_14_cap_freed_by_an_edit_flows_to_the_next_pfmp() -> None:
    assert amounts(10, 100, pfmp("a", 1, 9), pfmp("b", 2, 2)) == [90, 10]
    assert amounts(10, 100, pfmp("a", 1, 5), pfmp("b", 2, 2)) == [50, 20]


def test_example_15_the_order_is_chronological_not_the_edit_history() -> None:
    assert amounts(10, 100, pfmp("a", 1, 5), pfmp("b", 2, 5)) == [50, 50]
    # A is edited to 8 days: ours gives 80/20 where the existing system kept 50/50 (D5).
    assert amounts(10, 100, pfmp("a", 1, 8), pfmp("b", 2, 5)) == [80, 20]


def test_example_17_two_schools_with_the_same_mef_share_one_pool() -> None:
    priced = load_bareme().price(_row("247", 3), 2025)
    assert isinstance(priced, Priced)
    school_x, school_y = pfmp("x", 1, 30), pfmp("y", 3, 25)
    result = allocate(priced.daily_rate_cents, priced.yearly_cap_cents, [school_y, school_x])
    assert result.amounts() == {"x": 600 * E, "y": 400 * E}


def test_example_18_a_change_of_mef_opens_a_separate_pool() -> None:
    first = load_bareme().price(_row("247", 2), 2025)
    second = load_bareme().price(_row("241", 2), 2025)
    assert isinstance(first, Priced)
    assert isinstance(second, Priced)
    assert allocate(first.daily_rate_cents, first.yearly_cap_cents, [pfmp("a", 1, 30)]).total_cents == 450 * E
    assert allocate(second.daily_rate_cents, second.yearly_cap_cents, [pfmp("b", 4, 30)]).total_cents == 450 * E


def _row(dispositif: str, year: int) -> MefRow:
    return MefRow.from_bcn({"MEF": f"{dispositif}311153{year}", "MINISTERE": "MENJ"})


def test_example_36_a_pfmp_being_rectified_is_priced_before_never_paid_ones() -> None:
    # A (October) was paid 90 €; B (September, entered later) gets the 10 € left.
    a_paid = pfmp("a", 2, 9, created_seq=1, committed_amount_cents=90 * E, ever_paid=True)
    b = pfmp("b", 1, 5, created_seq=2)
    assert allocate(10 * E, 100 * E, [a_paid, b]).amounts() == {"a": 90 * E, "b": 10 * E}
    # A is rectified to 10 days: its new request is not committed yet, so it is class 2.
    a_rectified = pfmp("a", 2, 10, created_seq=1, ever_paid=True)
    result = allocate(10 * E, 100 * E, [a_rectified, b])
    assert result.amounts() == {"a": 100 * E, "b": 0}
    assert [x.klass for x in result.allocations] == ["rectifying", "free"]


def test_example_40_a_lowered_barème_leaves_the_committed_amount_and_flags_the_pool() -> None:
    result = allocate(90 * E, 600 * E, [pfmp("a", 1, 10, committed_amount_cents=900 * E, ever_paid=True)])
    assert result.get("a").amount_cents == 900 * E
    assert result.over_cap
    assert result.remaining_cents == 0


def test_example_41_clearing_a_day_count_frees_its_share() -> None:
    assert amounts(10, 100, pfmp("a", 1, 9), pfmp("b", 2, 5)) == [90, 10]
    assert amounts(10, 100, pfmp("a", 1, None), pfmp("b", 2, 5)) == [None, 50]


def test_example_42_deleting_a_pfmp_frees_its_share() -> None:
    assert amounts(10, 100, pfmp("a", 1, 9, deleted=True), pfmp("b", 2, 5)) == [None, 50]


def test_an_excluded_pfmp_is_not_priced_and_holds_nothing() -> None:
    result = allocate(10 * E, 100 * E, [pfmp("a", 1, 9, excluded=True), pfmp("b", 2, 5)])
    assert result.amounts() == {"a": None, "b": 50 * E}
    assert "excluded" in result.get("a").steps[0]


def test_an_amount_already_committed_stays_held_after_an_exclusion() -> None:
    committed = pfmp("a", 1, 9, excluded=True, committed_amount_cents=90 * E, ever_paid=True)
    assert allocate(10 * E, 100 * E, [committed, pfmp("b", 2, 5)]).amounts() == {"a": 90 * E, "b": 10 * E}


def test_over_cap_pools_clamp_every_other_amount_at_zero() -> None:
    result = allocate(10 * E, 100 * E, [pfmp("a", 1, 20, committed_amount_cents=150 * E), pfmp("b", 2, 5)])
    assert result.get("b").amount_cents == 0
    assert result.over_cap
    assert result.total_cents == 150 * E


def test_equal_dates_fall_back_to_creation_sequence() -> None:
    first, second = pfmp("z", 1, 8, created_seq=1), pfmp("a", 1, 8, created_seq=2)
    assert allocate(10 * E, 100 * E, [second, first]).amounts() == {"z": 80 * E, "a": 20 * E}


def test_allocations_come_in_class_then_chronological_order_with_readable_steps() -> None:
    result = allocate(10 * E, 100 * E, [
        pfmp("free-late", 3, 2), pfmp("none", 1, None), pfmp("free-early", 2, 2),
        pfmp("fixing", 4, 2, ever_paid=True), pfmp("sent", 5, 2, committed_amount_cents=20 * E),
    ])
    assert [a.pfmp_id for a in result.allocations] == ["sent", "fixing", "free-early", "free-late", "none"]
    assert result.get("free-early").steps == [
        "free: priced in chronological order",
        "2 days × 10 € = 20 €",
        "cap left before it: 60 € of 100 €",
        "amount: 20 €",
    ]
    assert result.committed_cents == 20 * E
    assert result.total_cents == 80 * E
    assert result.remaining_cents == 20 * E


def test_a_capped_amount_says_so() -> None:
    assert allocate(10 * E, 100 * E, [pfmp("a", 1, 11)]).get("a").steps[-1] == "amount: 100 € (capped)"


@pytest.mark.parametrize(
    ("rate", "cap", "pfmps"),
    [(-1, 100, [pfmp("a", 1, 1)]), (10, -1, [pfmp("a", 1, 1)]), (10, 100, [pfmp("a", 1, -1)]),
     (10, 100, [pfmp("a", 1, 1), pfmp("a", 2, 1)])],
)
def test_impossible_inputs_are_refused(rate: int, cap: int, pfmps: list[PoolPfmp]) -> None:
    with pytest.raises(ValueError, match=r"negative|twice"):
        allocate(rate, cap, pfmps)
