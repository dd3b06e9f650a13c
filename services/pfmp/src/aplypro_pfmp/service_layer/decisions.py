"""Decisions the establishment's confirmed director asks documents for: the retrait of a DA.

The request travels as a DecisionWithdrawalRequested on the PFMP topic, keyed by student like every PFMP
event, written to the outbox in the caller's transaction; documents checks the DA and issues the retrait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args
from uuid import UUID

from aplypro_contracts import DecisionWithdrawalRequested
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.domain.pfmp import PfmpError

PRODUCER = "pfmp"
# The contract's reasons, spelled out so that the command line offers them as choices (a test compares both).
WithdrawalReason = Literal["never_attended", "never_enrolled", "apprentice", "not_eligible"]
WITHDRAWAL_REASONS: tuple[str, ...] = get_args(WithdrawalReason)


@dataclass(frozen=True)
class WithdrawDecision:
    """Command: withdraw the décision d'attribution of one schooling (the right never existed)."""

    schooling_id: UUID
    reason: WithdrawalReason
    requested_by: str  # internal user id of the confirmed director, never a name


async def _student_of(conn: Connection, schooling_id: UUID) -> UUID | None:
    # One lookup on the students projection this service already keeps (adapters.postgres owns its schema).
    value = await conn.fetchval("SELECT student_id FROM schoolings WHERE schooling_id = $1", schooling_id)
    return None if value is None else UUID(str(value))


async def request_withdrawal(
    conn: Connection, command: WithdrawDecision, *, topic: str
) -> DecisionWithdrawalRequested:
    """Publish the request (through the outbox) for a schooling this service knows."""
    requested_by = command.requested_by.strip()
    if not requested_by:
        raise PfmpError("missing_requester", "the confirmed director's user id is required")
    student_id = await _student_of(conn, command.schooling_id)
    if student_id is None:
        raise PfmpError("unknown_schooling", f"no schooling {command.schooling_id} is known to the pfmp service")
    event = DecisionWithdrawalRequested(producer=PRODUCER, schooling_id=command.schooling_id,
                                        student_id=student_id, reason=command.reason, requested_by=requested_by)
    await write_outbox(conn, [event_row(topic, student_id, event)])  # keyed by student, as every PFMP event
    return event
