"""The public inbound contract (docs/producers.md): the guide's example parses; what idempotency and ordering
rely on is required of the producer; the inbound registry reads nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aplypro_contracts import SchemaViolation, UnknownEventType, default_registry
from aplypro_contracts.examples import examples
from aplypro_contracts.inbound import (
    SchoolingReported,
    SchoolingRetracted,
    inbound_registry,
    inbound_topic,
    rejections_topic,
)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "producers.md"


def guide_example() -> dict[str, Any]:
    text = GUIDE.read_text(encoding="utf-8").split("### Complete example", 1)[1]
    body: dict[str, Any] = json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])
    return body


def test_the_guide_example_is_a_valid_schooling_reported_v1() -> None:
    event = inbound_registry().parse(json.dumps(guide_example()).encode(), b"SchoolingReported", b"1")
    assert isinstance(event, SchoolingReported)
    assert (event.producer, event.source_version, event.schooling.establishment_uai) == ("mer", 3, "0999003M")
    assert event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize("field", ["event_id", "occurred_at", "correlation_id", "source_record_id",
                                   "source_version", "producer"])
def test_what_idempotency_and_order_rely_on_is_required(field: str) -> None:
    body = guide_example()
    del body[field]
    with pytest.raises(SchemaViolation, match=field):
        inbound_registry().parse(json.dumps(body))


@pytest.mark.parametrize(("path", "value"), [
    (("occurred_at",), "2025-09-03T08:15:00"),  # no offset
    (("producer",), "MER"),  # not a producer id
    (("schooling", "mef_code"), "24726203111"),  # the 11-character API form
    (("schooling", "establishment_uai"), "0999003m"),
    (("student", "first_names"), []),
    (("student", "last_name"), "KER\u0000VRAN"),  # a control character
])
def test_ill_formed_fields_are_schema_violations_naming_the_field(path: tuple[str, ...], value: Any) -> None:
    body = guide_example()
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(SchemaViolation, match=path[-1]):
        inbound_registry().parse(json.dumps(body))


def test_inbound_and_internal_contracts_do_not_mix() -> None:
    with pytest.raises(UnknownEventType):
        default_registry().parse(json.dumps(guide_example()))
    internal = examples()[0].model_dump_json()
    with pytest.raises(UnknownEventType):
        inbound_registry().parse(internal)


def test_each_producer_has_its_topic_and_its_rejections_topic() -> None:
    assert inbound_topic("mer") == "aplypro.inbound.schoolings.mer"
    assert rejections_topic("mer") == "aplypro.inbound.schoolings.mer.rejected"


def test_the_guide_retraction_example_is_a_valid_schooling_retracted_v1() -> None:
    text = GUIDE.read_text(encoding="utf-8").split("### Withdrawing a schooling", 1)[1]
    body = text.split("```json\n", 1)[1].split("```", 1)[0]
    event = inbound_registry().parse(body.encode(), b"SchoolingRetracted", b"1")
    assert isinstance(event, SchoolingRetracted)
    assert (event.producer, event.source_record_id, event.source_version) == ("mer", "LPM-2025-004417", 5)
    assert json.loads(body)["source_record_id"] == guide_example()["source_record_id"]  # the reported one


def test_a_retraction_requires_its_record_and_version() -> None:
    for field in ("source_record_id", "source_version", "event_id"):
        body = {k: v for k, v in guide_example().items() if k not in ("student", "schooling", field)}
        body["event_type"] = "SchoolingRetracted"
        with pytest.raises(SchemaViolation, match=field):
            inbound_registry().parse(json.dumps(body))
