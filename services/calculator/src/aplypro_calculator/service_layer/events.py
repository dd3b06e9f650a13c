"""Outgoing events of the calculator, built from pool rows (wire models live in aplypro_contracts)."""

from __future__ import annotations

from typing import Any, NamedTuple, get_args
from uuid import UUID, uuid4

from aplypro_contracts import AmountComputed, Envelope, PaymentRequestBlocked, PaymentRequested
from aplypro_contracts.calculator import BlockingReasonV5

PRODUCER = "calculator"
# Reasons the asp-gateway decides are not the calculator's to publish.
_WIRE_REASONS = frozenset(get_args(BlockingReasonV5))


class Cause(NamedTuple):
    """What a recomputation answers: its id becomes the causation id, its flow the correlation id."""

    event_id: UUID
    correlation_id: UUID

    @classmethod
    def of(cls, event: Envelope) -> Cause:
        return cls(event.event_id, event.correlation_id)

    @classmethod
    def command(cls) -> Cause:
        """An operator command has no incoming event: one new id stands for it."""
        command_id = uuid4()
        return cls(command_id, command_id)


def amount_computed(row: dict[str, Any], amount: int | None, steps: list[str], cause: Cause) -> AmountComputed:
    return AmountComputed(
        producer=PRODUCER, causation_id=cause.event_id, correlation_id=cause.correlation_id, pfmp_id=row["pfmp_id"], schooling_id=row["schooling_id"],
        student_id=row["student_id"], school_year=row["school_year"], mef_code=row["mef_code"],
        day_count=row["day_count"], amount_cents=amount, daily_rate_cents=row["daily_rate_cents"],
        yearly_cap_cents=row["yearly_cap_cents"], legal_reference=row["legal_reference"],
        explanation=tuple(steps),
    )


def payment_requested(row: dict[str, Any], request_id: UUID, amount: int, cause: Cause,
                      version: int) -> PaymentRequested:
    return PaymentRequested(
        version=version,
        producer=PRODUCER, causation_id=cause.event_id, correlation_id=cause.correlation_id, payment_request_id=request_id, pfmp_id=row["pfmp_id"],
        schooling_id=row["schooling_id"], student_id=row["student_id"], amount_cents=amount,
        day_count=row["day_count"], pfmp_rank=row["rank"],
        # Every request of a rectified PFMP carries its corrected total, its retries included (ASP updates
        # the same prestation dossier): calculation.md §5.3.
        rectification=row["status"] == "rectified",
        pfmp_start_date=row["start_date"],  # the gateway checks adulthood on this day (lifecycles.md §4 #18)
    )


def payment_request_blocked(row: dict[str, Any], request_id: UUID, reasons: tuple[str, ...], parked: bool,
                            cause: Cause, version: int) -> PaymentRequestBlocked:
    wire = tuple(dict.fromkeys(r for r in reasons if r in _WIRE_REASONS))
    return PaymentRequestBlocked(
        version=version,
        producer=PRODUCER, causation_id=cause.event_id, correlation_id=cause.correlation_id, payment_request_id=request_id, pfmp_id=row["pfmp_id"],
        student_id=row["student_id"], reasons=wire, parked=parked,
    )
