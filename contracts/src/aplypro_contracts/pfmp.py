"""Events of the pfmp service: workplace training periods and their validation."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from .envelope import Envelope, Frozen
from .text import AggregateVersion, Label


class PfmpStateV1(Frozen):
    """Full current state of one PFMP, as v1 events carried it (no version)."""

    pfmp_id: UUID
    schooling_id: UUID
    student_id: UUID
    start_date: date
    end_date: date
    day_count: int | None = Field(default=None, ge=0, description="Days attested; null until entered.")
    status: Literal["pending", "completed", "validated", "rectified"]
    created_seq: int = Field(ge=0, description="Creation sequence: a stable tie-break for ordering.")
    rank: int = Field(ge=1, le=99, description="Rank of the PFMP within its schooling, from 1.")
    deleted: bool = False

    @model_validator(mode="after")
    def _dates_in_order(self) -> PfmpStateV1:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class PfmpState(PfmpStateV1):
    """Full current state of one PFMP, with its version (pfmp increments it at each change of the PFMP)."""

    version: AggregateVersion




class PfmpRecordedV1(Envelope):
    """A PFMP was created or edited (dates, day count) or deleted."""

    event_type: Literal["PfmpRecorded"] = "PfmpRecorded"
    schema_version: Literal[1] = 1
    pfmp: PfmpStateV1


class PfmpRecordedV2(Envelope):
    """A PFMP was created or edited (dates, day count) or deleted; its state carries its version."""

    event_type: Literal["PfmpRecorded"] = "PfmpRecorded"
    schema_version: Literal[2] = 2
    pfmp: PfmpState


class PfmpValidatedV1(Envelope):
    """The establishment's director validated a completed PFMP: it may now be paid."""

    event_type: Literal["PfmpValidated"] = "PfmpValidated"
    schema_version: Literal[1] = 1
    pfmp: PfmpStateV1


class PfmpValidatedV2(Envelope):
    """The establishment's director validated a completed PFMP: it may now be paid. Its state carries its
    version."""

    event_type: Literal["PfmpValidated"] = "PfmpValidated"
    schema_version: Literal[2] = 2
    pfmp: PfmpState


class DecisionWithdrawalRequestedV1(Envelope):
    """The establishment's confirmed director withdraws (retrait) a schooling's décision d'attribution:
    the right never existed. Documents issues the décision de retrait; paid PFMPs become undue."""

    event_type: Literal["DecisionWithdrawalRequested"] = "DecisionWithdrawalRequested"
    schema_version: Literal[1] = 1
    schooling_id: UUID
    student_id: UUID
    reason: Literal["never_enrolled", "never_attended", "apprentice", "not_eligible"]
    requested_by: Label = Field(description="Internal user id of the confirmed director (never a name).")


class DecisionIssueRequestedV1(Envelope):
    """The establishment's confirmed director asks documents for a schooling's décision d'attribution
    (documents.md §6): `missing`, issue it if the schooling has none (the bulk *Éditer les décisions
    d'attribution manquantes* fans out one per schooling, hidden ones left out); `reissue`, its next version
    (*Rééditer*, hidden ones included). Documents applies its own rules: a reissue whose content equals the
    current version is skipped, an abrogated or withdrawn DA is never reissued."""

    event_type: Literal["DecisionIssueRequested"] = "DecisionIssueRequested"
    schema_version: Literal[1] = 1
    schooling_id: UUID
    student_id: UUID = Field(description="The schooling's student; the Kafka key, as every PFMP event.")
    mode: Literal["missing", "reissue"]
    requested_by: Label = Field(description="Internal user id of the confirmed director (never a name).")


class DecisionAbrogationRequestedV1(Envelope):
    """The establishment's confirmed director abrogates a schooling's décision d'attribution (documents.md
    §5.2): documents issues the abrogation only when it is due (schooling closed, a DA, a more recent schooling
    of the same year, neither abrogated nor withdrawn); otherwise the request is dropped and logged."""

    event_type: Literal["DecisionAbrogationRequested"] = "DecisionAbrogationRequested"
    schema_version: Literal[1] = 1
    schooling_id: UUID
    student_id: UUID = Field(description="The schooling's student; the Kafka key, as every PFMP event.")
    requested_by: Label = Field(description="Internal user id of the confirmed director (never a name).")


class LiquidationIssueRequestedV1(Envelope):
    """An ASP agent asks documents to generate, or regenerate, the état liquidatif of a dossier (a schooling)
    they found by its DA number (features.md §2, ASP row; documents.md §5.4). Documents applies its own rules:
    the schooling's état liquidatif is queued again, and one whose content equals the latest version is skipped
    (it keeps its version); nothing is queued without an issued DA or a payment request, nor after a retrait."""

    event_type: Literal["LiquidationIssueRequested"] = "LiquidationIssueRequested"
    schema_version: Literal[1] = 1
    schooling_id: UUID
    student_id: UUID = Field(description="The schooling's student; the Kafka key, as every PFMP event.")
    requested_by: Label = Field(description="Internal user id of the ASP agent (never a name).")


class _PfmpRectified(Envelope):
    event_type: Literal["PfmpRectified"] = "PfmpRectified"
    initiated_by: Literal["user", "system"] = Field(
        description="user: the confirmed director; system: a DA withdrawal or an operator repair.")
    requested_by: Label = Field(description="Internal id of the user or process (never a name).")


class PfmpRectifiedV1(_PfmpRectified):
    """A paid PFMP was corrected ("gérer un indu"): its new day count and dates. The calculator computes
    the new total, the difference with what was paid, and the new payment request."""

    schema_version: Literal[1] = 1
    pfmp: PfmpStateV1 = Field(
        description="The PFMP after the correction (status rectified; day count may be 0).")


class PfmpRectifiedV2(_PfmpRectified):
    """A paid PFMP was corrected ("gérer un indu"): its new day count and dates. The calculator computes
    the new total, the difference with what was paid, and the new payment request. Its state carries its
    version."""

    schema_version: Literal[2] = 2
    pfmp: PfmpState = Field(
        description="The PFMP after the correction (status rectified; day count may be 0), with its version.")


class PaymentRetryRequestedV1(Envelope):
    """The confirmed director asks for a new payment request ("relancer") after a terminal failure of the
    PFMP's latest one: `rejected` with a reason needing a person, or `unpaid` (lifecycles.md §2, Retries).
    A terminal request is never reopened: the calculator creates a new one and evaluates it at once. Naming the
    PFMP's latest request while it is `incomplete` (blocked by the calculator), it is the director's "retenter":
    the calculator evaluates that request again with what it knows now, and creates none."""

    event_type: Literal["PaymentRetryRequested"] = "PaymentRetryRequested"
    schema_version: Literal[1] = 1
    pfmp_id: UUID = Field(description="The PFMP to pay.")
    student_id: UUID = Field(description="Internal id of the PFMP's student; the Kafka key (one writer per pool).")
    payment_request_id: UUID = Field(
        description="The terminal request (rejected or unpaid) this retries, or the blocked (incomplete) one to "
        "evaluate again; ignored if it is no longer the PFMP's latest request.")
    requested_by: Label = Field(description="Opaque internal id of the user who asked (never a name).",
                              examples=["user-42"])
    reason: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="Why the request is relaunched, as a code chosen in the user interface (a code, never "
        "free text: no personal data).",
        examples=["bank_details_corrected", "asp_instructions_followed", "student_data_corrected"])


class SchoolingExtendedV1(Envelope):
    """The *report* of a closed schooling was set, changed or removed (calculation.md §3.6): staff, with the
    confirmed director's confirmation, extend the schooling's end so that a late PFMP of that past year can be
    entered and paid, on the old year's barème and in its pool. pfmp owns the report; the calculator bounds
    the PFMP's payment by it (lifecycles.md §4, `pfmp_outside_schooling_dates`)."""

    event_type: Literal["SchoolingExtended"] = "SchoolingExtended"
    schema_version: Literal[1] = 1
    schooling_id: UUID
    student_id: UUID = Field(description="Internal id of the schooling's student; the Kafka key.")
    extended_end_date: date | None = Field(description="The report date; null: the report was removed.")
    version: AggregateVersion = Field(description="The schooling's report version in pfmp (each change + 1).")
    requested_by: Label = Field(description="Opaque internal id of the confirmed director (never a name).",
                                examples=["user-42"])
