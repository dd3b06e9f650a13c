"""Every stored fixture of every contract version still parses into the latest model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aplypro_contracts import ALL_MODELS, default_registry
from aplypro_contracts.examples import examples

FIXTURES = Path(__file__).parent / "fixtures"


def test_there_is_a_fixture_for_every_contract_version() -> None:
    names = {f"{m.model_fields['event_type'].default}.v{m.model_fields['schema_version'].default}.json"
             for m in ALL_MODELS}
    assert names <= {p.name for p in FIXTURES.glob("*.json")}


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_a_stored_fixture_parses_into_the_latest_model(fixture: Path) -> None:
    body = json.loads(fixture.read_text(encoding="utf-8"))
    event = default_registry().parse(fixture.read_bytes())
    assert event.event_type == body["event_type"]
    assert str(event.event_id) == body["event_id"]


def test_every_example_round_trips_through_the_wire() -> None:
    registry = default_registry()
    for event in examples():
        assert registry.parse(event.model_dump_json()) == event
