"""Every reason the calculator can give a request has words in the shared catalog: a reason added without
them fails here."""

from __future__ import annotations

from typing import get_args

from aplypro_calculator.domain.decisions import DecisionReason
from aplypro_calculator.domain.requests import PARKING, Reason
from aplypro_calculator.entrypoints.reason_words import AWAITING
from aplypro_contracts.reasons import REASONS


def test_every_calculator_reason_has_words() -> None:
    keys = {*get_args(Reason), *get_args(DecisionReason), AWAITING}
    assert keys - set(REASONS) == set()


def test_the_catalog_agrees_on_what_parks() -> None:
    assert all(REASONS[key].parking for key in PARKING)
