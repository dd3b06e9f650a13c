"""Events of the ASP gateway: payment files written and requests handed to the ASP."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import Field

from .envelope import Cents, Envelope
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
