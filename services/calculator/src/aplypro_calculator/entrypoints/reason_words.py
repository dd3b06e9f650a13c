"""Blocking reasons in plain words for the command line, from the shared catalog of the contracts
(aplypro_contracts.reasons), so that the CLI, the other services and the web application say the same thing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aplypro_contracts.reasons import describe

AWAITING = "awaiting_evaluation"  # the cool-down (lifecycles.md §5): not evaluated yet, never silent


def lines(keys: Iterable[str], indent: str = "      ") -> list[str]:
    """One line per key: what blocks and what to do."""
    return [indent + describe(key).line() for key in keys]


def summary(counts: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """`status`: for each reason, how many open requests it holds back, what blocks and what to do."""
    out: dict[str, dict[str, Any]] = {}
    for key, n in sorted(counts.items()):
        text = describe(key)
        out[key] = {"requests": n, "blocks": text.blocks, "todo": text.todo, "parking": text.parking}
    return out
