"""Events of the ASP gateway: payment files written and requests handed to the ASP."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid5

from pydantic import Field, model_validator

from .envelope import Cents, Envelope, Frozen
from .text import AggregateVersion, Label


class _PaymentRequestSent(Envelope):
    event_type: Literal["PaymentRequestSent"] = "PaymentRequestSent"
    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    amount_cents: Cents
    file_name: Label = Field(description="Name of the payment file that carries the request.")


class PaymentRequestSentV1(_PaymentRequestSent):
    """A payment request was written into a payment file for the ASP."""

    schema_version: Literal[1] = 1


class PaymentRequestSentV2(_PaymentRequestSent):
    """A payment request was written into a payment file for the ASP. `version` is the gateway's own
    sequence for the request (it grows with each of its events about the request)."""

    schema_version: Literal[2] = 2
    version: AggregateVersion
    rib_id: UUID | None = Field(
        default=None, description="The RIB frozen on the request when it went into the file (the one the ASP "
        "pays to); its student cannot archive it while the request is in progress (`unarchivable_rib`). Null in "
        "messages written before it was added.")


class _PaymentRequestStateChanged(Envelope):
    event_type: Literal["PaymentRequestStateChanged"] = "PaymentRequestStateChanged"
    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    state: Literal["incomplete", "ready", "sent", "integrated", "rejected", "paid", "unpaid"]
    reasons: tuple[Label, ...] = Field(default=(), description="Blocking or rejection reason codes.")
    paid_amount: Decimal | None = Field(
        default=None, description="MTNET as ASP returned it (euros, Decimal, never truncated).")
    recovery: bool = Field(default=False, description="Paid means a recovery order was issued.")


class PaymentRequestStateChangedV1(_PaymentRequestStateChanged):
    """A payment request moved in its life cycle on the ASP side (lifecycles.md §2)."""

    schema_version: Literal[1] = 1


class PaymentRequestStateChangedV2(_PaymentRequestStateChanged):
    """A payment request moved in its life cycle on the ASP side (lifecycles.md §2). `version` is the
    gateway's own sequence for the request (it grows with each of its events about the request)."""

    schema_version: Literal[2] = 2
    version: AggregateVersion


class PaymentRequestStateChangedV3(_PaymentRequestStateChanged):
    """A payment request moved in its life cycle (lifecycles.md §2), `ready` included: published when the
    request is built into a payment file, in the transaction that binds it to the file (its RIB frozen from that
    moment, before the upload's PaymentRequestSent). `version` is the gateway's own sequence for the request."""

    schema_version: Literal[3] = 3
    version: AggregateVersion
    rib_id: UUID | None = Field(
        default=None, description="The RIB frozen on the request once it is in a file (from `ready` on; the one "
        "the ASP pays to); its student cannot archive it while the request is in progress (`unarchivable_rib`). "
        "Null before the request is in a file, and in messages written before v3.")


class PaymentRequestHeldV1(Envelope):
    """The asp-gateway holds back a request the calculator handed over (lifecycles.md §4: identity, address,
    RIB, ine_not_found, a retrait since...). Published each time its reasons change; once none is left the
    request goes into a file (PaymentRequestSent). The words of each key: aplypro_contracts.reasons."""

    event_type: Literal["PaymentRequestHeld"] = "PaymentRequestHeld"
    schema_version: Literal[1] = 1
    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    reasons: tuple[Label, ...] = Field(min_length=1, description="Blocking reason keys (see reasons.py).")
    version: AggregateVersion = Field(description="The gateway's own sequence for the request, shared with "
                                      "PaymentRequestSent and PaymentRequestStateChanged.")


# One group's size: ≈ 450 bytes a request on the wire, so a full group stays far below Kafka's 1 MiB default.
MOVES_PER_EVENT = 1_000

MovedState = Literal["held", "ready", "sent", "integrated", "rejected", "paid", "unpaid"]


class MovedRequest(Frozen):
    """One request's move inside PaymentRequestsMoved: the body of the single event it stands for."""

    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    version: AggregateVersion
    state: MovedState = Field(description="`held`: PaymentRequestHeld; `sent`: PaymentRequestSent; any other: "
                              "PaymentRequestStateChanged with that state.")
    reasons: tuple[Label, ...] = Field(default=(), description="Blocking (held) or rejection reason codes.")
    paid_amount: Decimal | None = Field(default=None, description="MTNET as ASP returned it (euros, Decimal).")
    recovery: bool = False
    rib_id: UUID | None = None
    amount_cents: Cents | None = Field(default=None, description="The amount sent (state `sent` only).")
    correlation_id: UUID
    causation_id: UUID | None = None

    @model_validator(mode="after")
    def _complete(self) -> MovedRequest:
        if self.state == "held" and not self.reasons:
            raise ValueError("a held request needs its reasons")
        if self.state == "sent" and self.amount_cents is None:
            raise ValueError("a sent request needs its amount")
        return self


AspRequestEvent = PaymentRequestHeldV1 | PaymentRequestSentV2 | PaymentRequestStateChangedV3


class PaymentRequestsMovedV1(Envelope):
    """Many requests moved at once: one file's build (held, ready), upload (sent) or return (integrated, rejected,
    paid, unpaid). It stands for one PaymentRequestHeld / PaymentRequestSent / PaymentRequestStateChanged per
    request, which `parts()` gives back, so that a file of thousands of requests is a few messages to read, not
    thousands. The asp-gateway groups a file's requests by the partition their student's key falls on and keys
    the group by one of them, so every student's events keep their one partition."""

    event_type: Literal["PaymentRequestsMoved"] = "PaymentRequestsMoved"
    schema_version: Literal[1] = 1
    file_name: Label | None = Field(default=None, description="The payment file built, uploaded or returned.")
    requests: tuple[MovedRequest, ...] = Field(min_length=1, max_length=MOVES_PER_EVENT)

    @model_validator(mode="after")
    def _one_move_a_request(self) -> PaymentRequestsMovedV1:
        if len({r.payment_request_id for r in self.requests}) != len(self.requests):
            raise ValueError("a request moves at most once in a group")
        if self.file_name is None and any(r.state == "sent" for r in self.requests):
            raise ValueError("sent requests need the file's name")
        return self

    def parts(self) -> list[AspRequestEvent]:
        """The single events this group stands for, in order. Each one's id is derived from the group's and the
        request's, so a group read twice gives the same ids (what a handler records of an event stays idempotent)."""
        return [self._part(r) for r in self.requests]

    def _part(self, r: MovedRequest) -> AspRequestEvent:
        common: dict[str, Any] = {
            "event_id": uuid5(self.event_id, str(r.payment_request_id)), "occurred_at": self.occurred_at,
            "producer": self.producer, "correlation_id": r.correlation_id, "causation_id": r.causation_id,
            "payment_request_id": r.payment_request_id, "pfmp_id": r.pfmp_id, "student_id": r.student_id,
            "version": r.version}
        # Built without validating again: every field was validated in the group, with the same types.
        if r.state == "held":
            return PaymentRequestHeldV1.model_construct(**common, reasons=r.reasons)
        if r.state == "sent":
            assert r.amount_cents is not None  # the validators above
            assert self.file_name is not None
            return PaymentRequestSentV2.model_construct(**common, amount_cents=r.amount_cents,
                                                        file_name=self.file_name, rib_id=r.rib_id)
        return PaymentRequestStateChangedV3.model_construct(**common, state=r.state, reasons=r.reasons,
                                                            paid_amount=r.paid_amount, recovery=r.recovery,
                                                            rib_id=r.rib_id)


def with_parts(events: Sequence[Any]) -> list[Any]:
    """A batch with each PaymentRequestsMoved replaced by its parts, in place, the other events as they are."""
    out: list[Any] = []
    for event in events:
        if isinstance(event, PaymentRequestsMovedV1):
            out.extend(event.parts())
        else:
            out.append(event)
    return out
