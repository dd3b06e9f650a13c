"""PaymentRequested gained an optional field within v1 (kept by v2); PaymentRetryRequested v1 ("relancer") is new."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from aplypro_contracts import (
    PaymentRequested,
    PaymentRequestSent,
    PaymentRequestStateChanged,
    PaymentRetryRequested,
    SchemaViolation,
    default_registry,
    to_wire,
)
from aplypro_contracts.catalog import CATALOG
from aplypro_contracts.topics import PFMP_EVENTS

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("headers", [False, True], ids=["generic path", "header fast path"])
def test_an_old_payment_requested_without_the_rectification_flag_still_parses_as_a_payment(headers: bool) -> None:
    raw = (FIXTURES / "PaymentRequested.v1.json").read_bytes()
    assert "rectification" not in json.loads(raw)  # written before the field existed
    registry = default_registry()
    event = registry.parse(raw, b"PaymentRequested", b"1") if headers else registry.parse(raw)
    assert isinstance(event, PaymentRequested)
    assert (event.schema_version, event.version, event.rectification, event.amount_cents) == (2, 0, False, 30000)


def test_the_rectification_flag_travels() -> None:
    current = json.loads((FIXTURES / "PaymentRequested.v2.json").read_bytes())
    event = PaymentRequested.model_validate({**current, "rectification": True})
    body, headers = to_wire(event)
    assert headers["schema-version"] == b"2"
    assert default_registry().latest_version("PaymentRequested") == 2
    parsed = default_registry().parse(body, headers["event-type"], headers["schema-version"])
    assert isinstance(parsed, PaymentRequested)
    assert parsed.rectification is True


def test_the_payment_retry_requested_v1_fixture_parses() -> None:
    event = default_registry().parse((FIXTURES / "PaymentRetryRequested.v1.json").read_bytes())
    assert isinstance(event, PaymentRetryRequested)
    assert (event.schema_version, event.reason, event.requested_by) == (1, "bank_details_corrected", "user-42")
    assert event.payment_request_id == uuid.UUID(int=4)
    # The director acts on a PFMP: it travels on the PFMP topic, keyed by student like every other event.
    [topic] = [t for t in CATALOG if PaymentRetryRequested in t.events]
    assert (topic.name, topic.key) == (PFMP_EVENTS, "student_id")
    assert "calculator" in topic.readers


def test_a_retry_reason_is_a_code_never_free_text() -> None:
    body = json.loads((FIXTURES / "PaymentRetryRequested.v1.json").read_bytes())
    with pytest.raises(SchemaViolation) as caught:
        default_registry().parse(json.dumps({**body, "reason": "M. Dupont a changé de banque"}))
    assert "reason" in str(caught.value)
    assert "Dupont" not in str(caught.value)


@pytest.mark.parametrize("headers", [False, True], ids=["generic path", "header fast path"])
def test_a_payment_request_sent_written_before_the_rib_id_still_parses_without_one(headers: bool) -> None:
    """PaymentRequestSent v2 gained an optional `rib_id` (the RIB frozen on the request, for unarchivable_rib)."""
    raw = (FIXTURES / "PaymentRequestSent.v2.json").read_bytes()
    assert "rib_id" not in json.loads(raw)  # written before the field existed
    registry = default_registry()
    event = registry.parse(raw, b"PaymentRequestSent", b"2") if headers else registry.parse(raw)
    assert isinstance(event, PaymentRequestSent)
    assert event.rib_id is None
    rib = uuid.uuid4()
    with_rib = event.model_copy(update={"rib_id": rib})
    body, wire_headers = to_wire(with_rib)
    parsed = registry.parse(body, wire_headers["event-type"], wire_headers["schema-version"])
    assert isinstance(parsed, PaymentRequestSent)
    assert parsed.rib_id == rib


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("headers", [False, True], ids=["generic path", "header fast path"])
def test_a_payment_request_state_changed_written_before_v3_still_parses_without_a_rib(version: int,
                                                                                      headers: bool) -> None:
    """PaymentRequestStateChanged v3 adds the RIB frozen on the request (sent from `ready`, at the file's build)."""
    raw = (FIXTURES / f"PaymentRequestStateChanged.v{version}.json").read_bytes()
    body = json.loads(raw)
    registry = default_registry()
    event = (registry.parse(raw, b"PaymentRequestStateChanged", str(version).encode()) if headers
             else registry.parse(raw))
    assert isinstance(event, PaymentRequestStateChanged)
    assert (event.schema_version, event.rib_id, event.state) == (3, None, body["state"])
    assert event.version == body.get("version", 0)  # a v1 body is older than any versioned event


def test_a_ready_state_carries_the_rib_frozen_in_the_file_through_the_wire() -> None:
    raw = (FIXTURES / "PaymentRequestStateChanged.v3.json").read_bytes()
    event = default_registry().parse(raw)
    assert isinstance(event, PaymentRequestStateChanged)
    assert (event.state, str(event.rib_id)) == ("ready", json.loads(raw)["rib_id"])
    body, wire_headers = to_wire(event)
    assert default_registry().parse(body, wire_headers["event-type"], wire_headers["schema-version"]) == event
