"""Aggregate versions (v2) and text safety: old v1 messages still parse, control characters never do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aplypro_contracts as c
import pytest
from aplypro_contracts import (
    ALL_MODELS,
    PfmpRecorded,
    PfmpRecordedV1,
    SchemaViolation,
    StudentRegistered,
    default_registry,
    to_wire,
)
from aplypro_contracts.examples import examples
from aplypro_contracts.text import FREE_TEXT_MAX, LABEL_MAX, NO_CONTROL_CHARACTERS, PERSON_NAME_MAX
from aplypro_contracts.upcasters import FLAT, NESTED_PFMP

FIXTURES = Path(__file__).parent / "fixtures"
VERSIONED = (*NESTED_PFMP, *FLAT)
# PaymentRequestBlocked v3-v5 widen the reasons (DA gates, dates, hidden); PaymentRequestStateChanged v3 adds the
# RIB frozen in the file; others stop at v2
LATEST = {"PaymentRequestBlocked": 5, "PaymentRequestStateChanged": 3}


def _version(event: Any) -> int:
    return int(event.pfmp.version if hasattr(event, "pfmp") else event.version)


@pytest.mark.parametrize("headers", [False, True], ids=["generic path", "with v1 headers"])
@pytest.mark.parametrize("event_type", VERSIONED)
def test_a_v1_message_parses_into_v2_as_version_0_older_than_any_versioned_event(event_type: str,
                                                                                 headers: bool) -> None:
    raw = (FIXTURES / f"{event_type}.v1.json").read_bytes()
    registry = default_registry()
    event = registry.parse(raw, event_type.encode(), b"1") if headers else registry.parse(raw)
    assert type(event) is getattr(c, event_type)  # the latest name
    assert (event.schema_version, _version(event)) == (LATEST.get(event_type, 2), 0)
    assert str(event.event_id) == json.loads(raw)["event_id"]


@pytest.mark.parametrize("event_type", VERSIONED)
def test_the_latest_name_is_the_latest_version_and_its_version_is_required(event_type: str) -> None:
    latest = LATEST.get(event_type, 2)
    model = getattr(c, event_type)
    assert model is getattr(c, f"{event_type}V{latest}")
    assert default_registry().latest_version(event_type) == latest
    body = json.loads((FIXTURES / f"{event_type}.v{latest}.json").read_bytes())
    (body["pfmp"] if event_type in NESTED_PFMP else body).pop("version")
    with pytest.raises(SchemaViolation) as caught:
        default_registry().parse(json.dumps(body))
    assert "version" in str(caught.value)


@pytest.mark.parametrize("headers", [False, True], ids=["generic path", "with v2 headers"])
def test_a_v2_payment_request_blocked_parses_into_the_latest_with_its_reasons(headers: bool) -> None:
    raw = (FIXTURES / "PaymentRequestBlocked.v2.json").read_bytes()
    registry = default_registry()
    event = registry.parse(raw, b"PaymentRequestBlocked", b"2") if headers else registry.parse(raw)
    assert type(event) is c.PaymentRequestBlockedV5
    assert (event.schema_version, event.version, event.reasons) == (5, 1, ("negative_rectification",))


@pytest.mark.parametrize("headers", [False, True], ids=["generic path", "with v3 headers"])
def test_a_v3_payment_request_blocked_parses_into_the_latest_with_its_reasons(headers: bool) -> None:
    raw = (FIXTURES / "PaymentRequestBlocked.v3.json").read_bytes()
    registry = default_registry()
    event = registry.parse(raw, b"PaymentRequestBlocked", b"3") if headers else registry.parse(raw)
    assert type(event) is c.PaymentRequestBlockedV5
    assert event.reasons == ("missing_attributive_decision", "attributive_decision_cancelled")


@pytest.mark.parametrize("headers", [False, True], ids=["generic path", "with v4 headers"])
def test_a_v4_payment_request_blocked_parses_into_v5_with_its_reasons(headers: bool) -> None:
    raw = (FIXTURES / "PaymentRequestBlocked.v4.json").read_bytes()
    registry = default_registry()
    event = registry.parse(raw, b"PaymentRequestBlocked", b"4") if headers else registry.parse(raw)
    assert type(event) is c.PaymentRequestBlockedV5
    assert (event.schema_version, event.reasons) == (5, ("pfmp_outside_schooling_dates",
                                                         "missing_attributive_decision"))


def test_a_v4_reader_refuses_the_reason_v5_adds() -> None:
    body = json.loads((FIXTURES / "PaymentRequestBlocked.v5.json").read_bytes())
    assert "hidden_schooling" in body["reasons"]
    with pytest.raises(ValueError, match="reasons"):
        c.PaymentRequestBlockedV4.model_validate({**body, "schema_version": 4})


def test_a_v2_event_travels_with_its_version_on_the_fast_path() -> None:
    event = next(e for e in examples() if isinstance(e, PfmpRecorded))
    body, headers = to_wire(event)
    assert headers["schema-version"] == b"2"
    parsed = default_registry().parse(body, headers["event-type"], headers["schema-version"])
    assert isinstance(parsed, PfmpRecorded)
    assert parsed.pfmp.version == 2


def test_a_malformed_v1_pfmp_is_a_schema_violation_not_a_crash() -> None:
    body = json.loads((FIXTURES / "PfmpRecorded.v1.json").read_bytes())
    with pytest.raises(SchemaViolation) as caught:
        default_registry().parse(json.dumps({**body, "pfmp": "nope"}))
    assert "pfmp" in str(caught.value)
    assert PfmpRecordedV1.model_validate(body).pfmp.pfmp_id  # the v1 model itself still reads its fixture


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f"])
@pytest.mark.parametrize("headers", [False, True], ids=["generic path", "header fast path"])
def test_a_control_character_in_a_name_is_a_schema_violation_that_names_the_field_only(bad: str,
                                                                                       headers: bool) -> None:
    body = json.loads((FIXTURES / "StudentRegistered.v1.json").read_bytes())
    body["identity"]["last_name"] = f"HAD{bad}DAD"
    raw = json.dumps(body).encode()
    registry = default_registry()
    with pytest.raises(SchemaViolation) as caught:
        registry.parse(raw, b"StudentRegistered", b"1") if headers else registry.parse(raw)
    assert caught.value.code == "schema_violation"  # the DLT reason: dead-lettered, the rest goes on
    assert "identity.last_name" in str(caught.value)
    assert "HAD" not in str(caught.value)


def test_an_old_v1_message_with_a_control_character_is_refused_after_its_upcast() -> None:
    body = json.loads((FIXTURES / "SchoolingOpened.v1.json").read_bytes())
    body["class_label"] = "TLE\x00PRO"
    with pytest.raises(SchemaViolation) as caught:
        default_registry().parse(json.dumps(body), b"SchoolingOpened", b"1")
    assert "class_label" in str(caught.value)


def test_accents_and_other_scripts_are_welcome() -> None:
    body = json.loads((FIXTURES / "StudentRegistered.v1.json").read_bytes())
    body["identity"]["last_name"] = "N'DIAYE-ÉLÉONORE حداد"
    event = default_registry().parse(json.dumps(body))
    assert isinstance(event, StudentRegistered)


@pytest.mark.parametrize(
    ("where", "limit"),
    [(("identity", "last_name"), PERSON_NAME_MAX), (("identity", "address", "city_name"), LABEL_MAX),
     (("producer",), LABEL_MAX)],
)
def test_a_text_field_has_a_maximum_length(where: tuple[str, ...], limit: int) -> None:
    body = json.loads((FIXTURES / "StudentRegistered.v1.json").read_bytes())
    body["identity"].setdefault("address", {})

    def put(value: str) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(body))
        node = copy
        for key in where[:-1]:
            node = node[key]
        node[where[-1]] = value
        return copy

    assert default_registry().parse(json.dumps(put("A" * limit)))
    with pytest.raises(SchemaViolation):
        default_registry().parse(json.dumps(put("A" * (limit + 1))))


def test_free_text_has_the_largest_limit() -> None:
    body = json.loads((FIXTURES / "AmountComputed.v1.json").read_bytes())
    assert default_registry().parse(json.dumps({**body, "legal_reference": "x" * FREE_TEXT_MAX}))
    with pytest.raises(SchemaViolation):
        default_registry().parse(json.dumps({**body, "legal_reference": "x" * (FREE_TEXT_MAX + 1)}))


def _strings(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every string node of a JSON schema, with where it is."""
    if "$ref" in schema:
        return _strings(defs[schema["$ref"].split("/")[-1]], defs, path)
    found: list[tuple[str, dict[str, Any]]] = []
    if schema.get("type") == "string":
        found.append((path, schema))
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            found += _strings(sub, defs, f"{path}[{i}]")
    if isinstance(schema.get("items"), dict):
        found += _strings(schema["items"], defs, f"{path}[]")
    for name, sub in schema.get("properties", {}).items():
        found += _strings(sub, defs, f"{path}.{name}")
    return found


def test_every_text_field_of_every_contract_refuses_control_characters_and_has_a_maximum_length() -> None:
    unbounded = []
    for model in ALL_MODELS:
        schema = model.model_json_schema()
        for path, node in _strings(schema, schema.get("$defs", {}), model.__name__):
            if "format" in node or "enum" in node or "const" in node:
                continue  # uuid, date, date-time, literals
            if path.endswith("paid_amount[1]"):
                continue  # a Decimal written as a string: its own pattern of digits
            pattern = node.get("pattern", "")
            code = pattern.startswith("^") and pattern.endswith("$") and not {"*", "+", "."} & set(pattern)
            if not code and (pattern != NO_CONTROL_CHARACTERS or "maxLength" not in node):
                unbounded.append(path)  # a code keeps its bounded pattern; any other text gets both
    assert unbounded == []
