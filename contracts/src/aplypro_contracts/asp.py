"""Events of the ASP gateway: payment files written and requests handed to the ASP."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import Field

from .envelope import Cents, Envelope


class PaymentRequestSentV1(Envelope):
    """A payment request was written into a payment file for the ASP."""

    event_type: Literal["PaymentRequestSent"] = "PaymentRequestSent"
    schema_version: Literal[1] = 1
    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    amount_cents: Cents
    file_name: str = Field(description="Name of the payment file that carries the request.")


class PaymentRequestStateChangedV1(Envelope):
    """A payment request moved in its life cycle on the ASP side (lifecycles.md §2)."""

    event_type: Literal["PaymentRequestStateChanged"] = "PaymentRequestStateChanged"
    schema_version: Literal[1] = 1
    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    state: Literal["incomplete", "ready", "sent", "integrated", "rejected", "paid", "unpaid"]
    reasons: tuple[str, ...] = Field(default=(), description="Blocking or rejection reason codes.")
    paid_amount: Decimal | None = Field(
        default=None, description="MTNET as ASP returned it (euros, Decimal, never truncated).")
    recovery: bool = Field(default=False, description="Paid means a recovery order was issued.")
