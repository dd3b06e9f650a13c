"""Events of the calculator: barème applied to schoolings, PFMP amounts and payment requests."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field

from .envelope import Cents, Envelope
from .text import AggregateVersion, FreeText, Label


class SchoolingPricedV1(Envelope):
    """The barème that applies to a schooling (what its décision d'attribution states)."""

    event_type: Literal["SchoolingPriced"] = "SchoolingPriced"
    schema_version: Literal[1] = 1
    schooling_id: UUID
    student_id: UUID
    school_year: int
    priced: bool = Field(description="False when the MEF gets no allowance; see unpriced_reason.")
    daily_rate_cents: Cents | None = None
    yearly_cap_cents: Cents | None = None
    legal_reference: FreeText | None = Field(default=None, description="Text the parameters come from.")
    unpriced_reason: Label | None = Field(default=None, examples=["year_not_covered"])


class AmountComputedV1(Envelope):
    """The amount of one PFMP changed (or was first computed)."""

    event_type: Literal["AmountComputed"] = "AmountComputed"
    schema_version: Literal[1] = 1
    pfmp_id: UUID
    schooling_id: UUID
    student_id: UUID
    school_year: int
    mef_code: Label
    day_count: int | None = Field(ge=0)
    amount_cents: Cents | None = Field(description="Null when the PFMP has no day count or is unpriced.")
    daily_rate_cents: Cents | None = None
    yearly_cap_cents: Cents | None = None
    legal_reference: FreeText | None = None
    explanation: tuple[FreeText, ...] = Field(default=(), description="Steps that gave the amount.")


class _PaymentRequested(Envelope):
    event_type: Literal["PaymentRequested"] = "PaymentRequested"
    payment_request_id: UUID
    pfmp_id: UUID
    schooling_id: UUID
    student_id: UUID
    amount_cents: Cents = Field(description="Total to pay for the PFMP, in cents (a whole number of euros).")
    day_count: int = Field(ge=0)
    pfmp_rank: int = Field(ge=1)
    # Optional with a default: v1 messages written before it still parse (STYLE.md §4), no new version.
    rectification: bool = Field(
        default=False,
        description="True when the request is the one of a rectified PFMP: ASP updates the same prestation "
        "dossier with this new total (never a delta; 0 for a full cancellation). False: a first payment or "
        "its retry. Absent from messages older than the field: read as false.")
    # Optional with a default, like `rectification`: messages written before it still parse.
    pfmp_start_date: date | None = Field(
        default=None,
        description="First day of the PFMP: the date at which the asp-gateway checks whether the student is "
        "an adult (lifecycles.md §4 #18, adult_wrong_owner_type). Absent from messages older than the field: "
        "the gateway then checks adulthood on the day the request was made, which is never earlier.")


class PaymentRequestedV1(_PaymentRequested):
    """A payment request was created for a validated PFMP and is ready to be sent to the ASP."""

    schema_version: Literal[1] = 1


class PaymentRequestedV2(_PaymentRequested):
    """A payment request was created for a validated PFMP and is ready to be sent to the ASP; `version` is
    the request's version in the calculator."""

    schema_version: Literal[2] = 2
    version: AggregateVersion


BlockingReason = Literal[
    "pfmp", "pfmp_amount", "excluded_schooling", "negative_rectification", "mef_without_bareme",
]
# v2 adds `overlaps` (lifecycles.md §4: the PFMP overlaps another payable PFMP of the student); v2 is new in
# the same release, so no v2 reader ever met the narrower list.
BlockingReasonV2 = Literal[
    "pfmp", "pfmp_amount", "excluded_schooling", "negative_rectification", "mef_without_bareme", "overlaps",
]
# v3 adds the décision d'attribution gates (lifecycles.md §4, 13-15), decided from the documents service's
# DocumentReady events. A new version: a v2 reader would refuse these reasons.
BlockingReasonV3 = Literal[
    "pfmp", "pfmp_amount", "excluded_schooling", "negative_rectification", "mef_without_bareme", "overlaps",
    "missing_attributive_decision", "needs_abrogated_attributive_decision", "attributive_decision_cancelled",
]

# v4 adds `pfmp_outside_schooling_dates` (lifecycles.md §4, 11): the PFMP is not within its schooling's dates,
# the report (SchoolingExtended) included. A new version: a v3 reader would refuse it.
BlockingReasonV4 = Literal[
    "pfmp", "pfmp_amount", "excluded_schooling", "negative_rectification", "mef_without_bareme", "overlaps",
    "missing_attributive_decision", "needs_abrogated_attributive_decision", "attributive_decision_cancelled",
    "pfmp_outside_schooling_dates",
]

# v5 adds `hidden_schooling`: the students service hid the schooling (SchoolingHiddenChanged: staff removed a
# learner who never came, or its producer retracted it), so its PFMPs hold nothing and are not paid
# (lifecycles.md §3 "remove"). A new version: a v4 reader would refuse it.
BlockingReasonV5 = Literal[
    "pfmp", "pfmp_amount", "excluded_schooling", "negative_rectification", "mef_without_bareme", "overlaps",
    "missing_attributive_decision", "needs_abrogated_attributive_decision", "attributive_decision_cancelled",
    "pfmp_outside_schooling_dates", "hidden_schooling",
]


class _PaymentRequestBlocked(Envelope):
    event_type: Literal["PaymentRequestBlocked"] = "PaymentRequestBlocked"
    payment_request_id: UUID
    pfmp_id: UUID
    student_id: UUID
    reasons: tuple[BlockingReason, ...] = Field(min_length=1)
    parked: bool = Field(description="True when only parking reasons remain (request stays pending).")


class PaymentRequestBlockedV1(_PaymentRequestBlocked):
    """The calculator holds a payment request back for reasons it decides (lifecycles.md §4); the other
    reasons (identity, address, RIB, decisions) are decided by the asp-gateway."""

    schema_version: Literal[1] = 1


class PaymentRequestBlockedV2(_PaymentRequestBlocked):
    """The calculator holds a payment request back for reasons it decides (lifecycles.md §4); the other
    reasons (identity, address, RIB, decisions) are decided by the asp-gateway. `version` is the request's
    version in the calculator."""

    schema_version: Literal[2] = 2
    reasons: tuple[BlockingReasonV2, ...] = Field(min_length=1)  # type: ignore[assignment]
    version: AggregateVersion


class PaymentRequestBlockedV3(_PaymentRequestBlocked):
    """The calculator holds a payment request back for reasons it decides (lifecycles.md §4), the décision
    d'attribution gates included; the other reasons (identity, address, RIB) are decided by the asp-gateway.
    `version` is the request's version in the calculator."""

    schema_version: Literal[3] = 3
    reasons: tuple[BlockingReasonV3, ...] = Field(min_length=1)  # type: ignore[assignment]
    version: AggregateVersion


class PaymentRequestBlockedV4(_PaymentRequestBlocked):
    """The calculator holds a payment request back for reasons it decides (lifecycles.md §4), the décision
    d'attribution gates and the schooling's dates included; the other reasons (identity, address, RIB) are
    decided by the asp-gateway. `version` is the request's version in the calculator."""

    schema_version: Literal[4] = 4
    reasons: tuple[BlockingReasonV4, ...] = Field(min_length=1)  # type: ignore[assignment]
    version: AggregateVersion


class PaymentRequestBlockedV5(_PaymentRequestBlocked):
    """The calculator holds a payment request back for reasons it decides (lifecycles.md §4), the décision
    d'attribution gates, the schooling's dates and its hiding included; the other reasons (identity, address,
    RIB) are decided by the asp-gateway. `version` is the request's version in the calculator."""

    schema_version: Literal[5] = 5
    reasons: tuple[BlockingReasonV5, ...] = Field(min_length=1)  # type: ignore[assignment]
    version: AggregateVersion


class RectificationComputedV1(Envelope):
    """Outcome of a rectification: the corrected total against the last total ASP accepted."""

    event_type: Literal["RectificationComputed"] = "RectificationComputed"
    schema_version: Literal[1] = 1
    pfmp_id: UUID
    student_id: UUID
    base_cents: Cents = Field(description="Total last accepted by ASP (paid or recovery order).")
    new_cents: Cents = Field(description="Corrected total for the PFMP.")
    difference_cents: int = Field(description="new − base; negative means a recovery.")
    outcome: Literal["complement", "recovery", "refused"]
    refusal_code: Label | None = Field(default=None, examples=["below_recovery_threshold"])
    parked: bool = Field(default=False, description="Recovery recorded but parked (negative rectifications off).")
    payment_request_id: UUID | None = Field(default=None, description="The new request, when one is created.")
