"""The registry decodes wire bytes, refuses what it cannot trust, and upcasts old versions."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from aplypro_contracts import (
    Envelope,
    MalformedMessage,
    Registry,
    SchemaViolation,
    UnknownEventType,
    UnsupportedSchemaVersion,
    default_registry,
    to_wire,
)
from aplypro_contracts.examples import examples


class ThingCountedV1(Envelope):
    event_type: Literal["ThingCounted"] = "ThingCounted"
    schema_version: Literal[1] = 1
    amount: int  # whole euros


class ThingCountedV2(Envelope):
    event_type: Literal["ThingCounted"] = "ThingCounted"
    schema_version: Literal[2] = 2
    amount_cents: int


def v1_to_v2(body: dict[str, Any]) -> dict[str, Any]:
    upgraded = {k: v for k, v in body.items() if k != "amount"}
    return {**upgraded, "amount_cents": body["amount"] * 100, "schema_version": 2}


def test_an_old_version_is_upcast_to_the_latest_model() -> None:
    registry = Registry()
    registry.register(ThingCountedV1, ThingCountedV2)
    registry.register_upcaster("ThingCounted", 1, v1_to_v2)
    old = ThingCountedV1(producer="test", amount=12).model_dump_json()
    event = registry.parse(old)
    assert isinstance(event, ThingCountedV2)
    assert event.amount_cents == 1200


def test_a_version_without_upcaster_is_refused() -> None:
    registry = Registry()
    registry.register(ThingCountedV1, ThingCountedV2)
    with pytest.raises(UnsupportedSchemaVersion):
        registry.parse(ThingCountedV1(producer="test", amount=1).model_dump_json())


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"{oops", MalformedMessage),
        (b"[1, 2]", MalformedMessage),
        (b"\xff\xfe", MalformedMessage),
        (json.dumps({"event_type": "Nope", "schema_version": 1}).encode(), UnknownEventType),
        (json.dumps({"event_type": "PfmpRecorded", "schema_version": 7}).encode(), UnsupportedSchemaVersion),
        (json.dumps({"event_type": "PfmpRecorded", "schema_version": 1, "producer": "x"}).encode(),
         SchemaViolation),
    ],
)
def test_bad_messages_raise_an_error_with_a_stable_code(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        default_registry().parse(raw)
    assert caught.value.code  # type: ignore[attr-defined]


def test_a_schema_violation_names_fields_never_values() -> None:
    event = json.loads(examples()[0].model_dump_json())
    event["identity"]["birth_date"] = "HADDAD-SECRET"
    with pytest.raises(SchemaViolation) as caught:
        default_registry().parse(json.dumps(event))
    assert "identity.birth_date" in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_type_and_version_travel_as_headers() -> None:
    body, headers = to_wire(next(e for e in examples() if e.event_type == "PfmpRecorded"))
    assert headers["event-type"] == b"PfmpRecorded"
    assert headers["schema-version"] == b"2"
    assert json.loads(body)["event_type"] == "PfmpRecorded"


def test_money_is_never_a_float_in_any_contract() -> None:
    for event in examples():
        for name, value in event.model_dump().items():
            assert not isinstance(value, float), name
