"""The demo's stages fail when their count stands still, not because a big school takes long."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from aplypro_local import demo


class CountingProbe:
    """Figures that move by `step` at each reading (0: they stand still)."""

    def __init__(self, step: int) -> None:
        self.readings = itertools.count(0, step) if step else itertools.repeat(0)

    async def figures(self) -> dict[str, int]:
        return {"decisions": next(self.readings)}


class AliveStack:
    workdir = Path("/nowhere")

    def alive(self) -> dict[str, bool]:
        return {"documents": True}


def wait(probe: Any, target: int, timeout: float) -> dict[str, int]:
    return demo._wait(probe, AliveStack(), "documents renders the decisions",  # type: ignore[arg-type]
                      lambda f: f["decisions"] >= target, lambda f: f"{f['decisions']}/{target}", timeout)


def test_a_stage_that_keeps_moving_may_take_longer_than_its_timeout() -> None:
    # 0.3 s between readings: reaching 12 takes ~3.6 s, twelve times the timeout, and passes.
    assert wait(CountingProbe(1), 12, timeout=1.0)["decisions"] >= 12


def test_a_stage_standing_still_fails_after_its_timeout() -> None:
    with pytest.raises(demo.DemoFailed, match=r"0/5 \(no progress for 1 s\)"):
        wait(CountingProbe(0), 5, timeout=1.0)


def test_the_decisions_stage_waits_for_the_gateway_to_know_every_da() -> None:
    # pfmp and the calculator know the 3 DAs, the gateway 2: a request read now would be held for its DA.
    figures = {"pfmp_decisions": 3, "calculator_decisions": 3, "gateway_decisions": 2}
    assert demo.decisions_known(figures) == 2
    assert demo.decisions_known({**figures, "gateway_decisions": 3}) == 3
    students = {"pfmp_ribs": 5, "gateway_students": 5, "gateway_schoolings": 4, "gateway_ribs": 5}
    assert demo.students_known(students) == 4
