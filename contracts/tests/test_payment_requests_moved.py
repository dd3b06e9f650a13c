"""PaymentRequestsMoved stands for one single event per request: its parts are exactly those events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from aplypro_contracts import (
    MOVES_PER_EVENT,
    MovedRequest,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestsMoved,
    PaymentRequestStateChanged,
    default_registry,
    to_wire,
    with_parts,
)
from pydantic import ValidationError


def _request(state: str, **more: object) -> MovedRequest:
    return MovedRequest.model_validate({
        "payment_request_id": uuid.uuid4(), "pfmp_id": uuid.uuid4(), "student_id": uuid.uuid4(), "version": 3,
        "state": state, "correlation_id": uuid.uuid4(), "causation_id": uuid.uuid4(), **more})


def _group(*requests: MovedRequest, file_name: str | None = "ASP_F1.xml") -> PaymentRequestsMoved:
    return PaymentRequestsMoved(producer="asp-gateway", file_name=file_name, requests=requests)


def test_each_part_is_the_single_event_the_gateway_published_before() -> None:
    rib = uuid.uuid4()
    held = _request("held", reasons=("missing_rib",))
    ready = _request("ready", rib_id=rib)
    sent = _request("sent", amount_cents=30000, rib_id=rib)
    paid = _request("paid", paid_amount=Decimal("150.05"), rib_id=rib)
    rejected = _request("rejected", reasons=("R01",), recovery=False)
    group = _group(held, ready, sent, paid, rejected)
    parts = default_registry().parse(*_wire(group)).parts()  # type: ignore[attr-defined]
    assert [type(p) for p in parts] == [PaymentRequestHeld, PaymentRequestStateChanged, PaymentRequestSent,
                                        PaymentRequestStateChanged, PaymentRequestStateChanged]
    for part, moved in zip(parts, group.requests, strict=True):
        assert (part.payment_request_id, part.pfmp_id, part.student_id, part.version, part.correlation_id,
                part.causation_id, part.producer, part.occurred_at) == (
            moved.payment_request_id, moved.pfmp_id, moved.student_id, moved.version, moved.correlation_id,
            moved.causation_id, "asp-gateway", group.occurred_at)
        # A part is a valid single event: it round-trips through the registry as itself.
        assert default_registry().parse(*_wire(part)) == part
    assert parts[0].reasons == ("missing_rib",)
    assert (parts[1].state, parts[1].rib_id) == ("ready", rib)
    assert (parts[2].amount_cents, parts[2].file_name, parts[2].rib_id) == (30000, "ASP_F1.xml", rib)
    assert (parts[3].state, parts[3].paid_amount) == ("paid", Decimal("150.05"))
    assert (parts[4].state, parts[4].reasons) == ("rejected", ("R01",))


def test_a_group_read_twice_gives_the_same_part_ids() -> None:
    group = _group(_request("ready"), _request("ready"))
    again = default_registry().parse(*_wire(group))
    assert [p.event_id for p in again.parts()] == [p.event_id for p in group.parts()]  # type: ignore[attr-defined]
    assert len({p.event_id for p in group.parts()} | {group.event_id}) == 3


def test_with_parts_replaces_groups_in_place() -> None:
    single = PaymentRequestHeld(producer="asp-gateway", payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(),
                                student_id=uuid.uuid4(), version=1, reasons=("missing_rib",))
    group = _group(_request("ready"), _request("ready"))
    assert with_parts([single, group, single]) == [single, *group.parts(), single]


def _held_without_reasons() -> tuple[MovedRequest, ...]:
    return (_request("held"),)


def _sent_without_amount() -> tuple[MovedRequest, ...]:
    return (_request("sent"),)


@pytest.mark.parametrize(("requests", "file_name"), [
    ((), "F"),
    (_held_without_reasons, "F"),
    (_sent_without_amount, "F"),
    (lambda: (_request("sent", amount_cents=1),), None),  # sent, without the file's name
    (lambda: (lambda r: (r, r))(_request("ready")), "F"),  # one request twice
], ids=["empty", "held without reasons", "sent without amount", "sent without file", "twice"])
def test_an_incomplete_group_is_refused(requests: Callable[[], tuple[MovedRequest, ...]] | tuple[()],
                                        file_name: str | None) -> None:
    with pytest.raises(ValidationError):
        _group(*(requests() if callable(requests) else requests), file_name=file_name)


def test_a_full_group_stays_far_below_kafkas_default_record_size() -> None:
    group = _group(*(_request("paid", paid_amount=Decimal("9999.99"), rib_id=uuid.uuid4(), reasons=("R01",))
                     for _ in range(MOVES_PER_EVENT)))
    body, _ = to_wire(group)
    assert len(body) < 1024 * 1024 * 0.75
    with pytest.raises(ValidationError):  # one more than a group may carry
        _group(*group.requests, _request("ready"))


def _wire(event: object) -> tuple[bytes, bytes, bytes]:
    body, headers = to_wire(event)  # type: ignore[arg-type]
    return body, headers["event-type"], headers["schema-version"]
