"""Property tests of the invariants of calculation.md §3.8."""

from __future__ import annotations

import random
from datetime import date, timedelta

from aplypro_calculator.domain.pool import PoolPfmp, allocate
from hypothesis import given
from hypothesis import strategies as st

# Whole euros, as the barème guarantees; committed amounts may exceed any cap (legacy data).
EUROS = st.integers(min_value=0, max_value=1000).map(lambda e: e * 100)


@st.composite
def pools(draw: st.DrawFn, *, committed: bool = True) -> tuple[int, int, list[PoolPfmp]]:
    rate = draw(st.integers(min_value=1, max_value=30)) * 100
    cap = draw(st.integers(min_value=0, max_value=2000)) * 100
    size = draw(st.integers(min_value=0, max_value=8))
    pfmps = []
    for i in range(size):
        start = date(2025, 9, 1) + timedelta(days=draw(st.integers(min_value=0, max_value=30)))
        pfmps.append(PoolPfmp(
            pfmp_id=f"p{i}",
            start_date=start,
            end_date=start + timedelta(days=draw(st.integers(min_value=0, max_value=5))),
            created_seq=draw(st.integers(min_value=0, max_value=3)),  # ties on purpose
            day_count=draw(st.none() | st.integers(min_value=0, max_value=80)),
            deleted=draw(st.booleans()),
            excluded=draw(st.booleans()),
            committed_amount_cents=draw(st.none() | EUROS) if committed else None,
            ever_paid=draw(st.booleans()),
        ))
    return rate, cap, pfmps


@given(pools())
def test_no_amount_is_negative_or_above_its_days_or_the_cap_left_at_its_turn(
    pool: tuple[int, int, list[PoolPfmp]],
) -> None:
    rate, cap, pfmps = pool
    result = allocate(rate, cap, pfmps)
    held = result.committed_cents
    facts = {p.pfmp_id: p for p in pfmps}
    for a in result.allocations:
        p = facts[a.pfmp_id]
        if a.klass == "committed":
            assert a.amount_cents == p.committed_amount_cents  # never changed by a recomputation
        elif a.klass == "none":
            assert a.amount_cents is None
        else:
            assert a.amount_cents is not None
            assert p.day_count is not None
            left = max(0, cap - held)
            assert 0 <= a.amount_cents <= min(p.day_count * rate, left)
            # Greedy fill: short of days × rate only when the cap is used up at its turn.
            if a.amount_cents < p.day_count * rate:
                assert a.amount_cents == left
            held += a.amount_cents


@given(pools())
def test_the_pool_never_exceeds_its_cap_unless_committed_amounts_already_do(
    pool: tuple[int, int, list[PoolPfmp]],
) -> None:
    rate, cap, pfmps = pool
    result = allocate(rate, cap, pfmps)
    assert result.over_cap == (result.committed_cents > cap)
    if not result.over_cap:
        assert result.total_cents <= cap


@given(pools(committed=False))
def test_with_nothing_committed_the_total_is_the_smaller_of_cap_and_days_times_rate(
    pool: tuple[int, int, list[PoolPfmp]],
) -> None:
    rate, cap, pfmps = pool
    wanted = sum(p.day_count * rate for p in pfmps if p.day_count is not None and not (p.deleted or p.excluded))
    assert allocate(rate, cap, pfmps).total_cents == min(cap, wanted)


@given(pools(), st.randoms(use_true_random=False))
def test_any_order_of_the_same_facts_gives_the_same_amounts(
    pool: tuple[int, int, list[PoolPfmp]], rnd: random.Random,
) -> None:
    rate, cap, pfmps = pool
    shuffled = list(pfmps)
    rnd.shuffle(shuffled)
    assert allocate(rate, cap, shuffled) == allocate(rate, cap, pfmps)
