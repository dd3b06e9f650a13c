"""The confirmed director's commands that other services carry out, each checked against what pfmp knows,
written to the outbox in the caller's transaction and audited with the user id:

* withdraw a schooling's DA (retrait): DecisionWithdrawalRequested, for documents;
* relaunch a rejected or unpaid request ("relancer"): PaymentRetryRequested, for the calculator, which
  creates a new request (lifecycles.md §2, Retries; a terminal request is never reopened);
* retry a blocked request ("retenter", e.g. once the data behind its reasons was fixed): the same event naming
  that `incomplete` request, which the service holding it checks again (not replaced): the calculator for one
  it blocked, the asp-gateway for one it holds back (PaymentRequestHeld); the other one ignores it.

Who may ask (the establishment's confirmed director) is the caller's check; these rules hold for anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import structlog
from aplypro_contracts import DecisionWithdrawalRequested, PaymentRetryRequested
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.adapters import actions_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.decisions import WithdrawDecision, request_withdrawal
from aplypro_pfmp.service_layer.lifecycle import require_user
from aplypro_pfmp.service_layer.use_cases import PRODUCER

log = structlog.get_logger(__name__)
RELAUNCHABLE = frozenset({"rejected", "unpaid"})  # terminal failures a person must restart (lifecycles.md §2)
# The codes a user picks for a relaunch (the contract takes a code, never free text).
RELAUNCH_REASONS: tuple[str, ...] = ("bank_details_corrected", "student_data_corrected", "asp_instructions_followed")
RETRIABLE = frozenset({"incomplete"})  # blocked (calculator or gateway): evaluated again on "retenter" (lifecycles.md §2)
RETRY_REASON = "blocked_request_retried"  # the reason code of a "retenter" (a code, never free text)


async def withdraw_decision(conn: Connection, command: WithdrawDecision, *, topic: str) -> DecisionWithdrawalRequested:
    """Ask documents for the retrait of an issued DA, once: refused without a DA, after a retrait or an
    abrogation (both final), or when one was already asked."""
    user_id = require_user(command.requested_by)
    kinds = await actions_sql.decision_kinds(conn, command.schooling_id)
    if "retrait" in kinds:
        raise PfmpError("decision_already_withdrawn", "the schooling's DA is already withdrawn")
    if "abrogation" in kinds:
        raise PfmpError("attributive_decision_abrogated", "an abrogated DA can no longer be withdrawn")
    if "attribution" not in kinds:
        raise PfmpError("missing_attributive_decision", "the schooling has no DA to withdraw")
    if await actions_sql.already_done(conn, "withdraw_decision", schooling_id=command.schooling_id):
        raise PfmpError("withdrawal_already_requested", "the retrait of this DA was already asked")
    event = await request_withdrawal(conn, command, topic=topic)
    await actions_sql.audit(conn, user_id, "withdraw_decision", schooling_id=command.schooling_id)
    log.info("decision_withdrawal_requested", schooling_id=str(command.schooling_id), reason=command.reason)
    return event


@dataclass(frozen=True)
class RelaunchPayment:
    """Command: a new payment request for the PFMP whose latest request `payment_request_id` failed for good."""

    pfmp_id: UUID
    payment_request_id: UUID
    reason: str  # one of RELAUNCH_REASONS
    user_id: str


async def relaunch_payment(conn: Connection, command: RelaunchPayment, *, topic: str) -> PaymentRetryRequested:
    user_id = require_user(command.user_id)
    if command.reason not in RELAUNCH_REASONS:
        raise PfmpError("invalid_form", f"unknown relaunch reason {command.reason!r}")
    student_id = await conn.fetchval("SELECT student_id FROM pfmps WHERE pfmp_id = $1 AND NOT deleted",
                                     command.pfmp_id)
    if student_id is None:
        raise PfmpError("unknown_pfmp", f"no live PFMP {command.pfmp_id}")
    latest = await actions_sql.latest_request(conn, command.pfmp_id)
    if latest is None or latest[0] != command.payment_request_id:
        raise PfmpError("not_latest_request", "only the PFMP's latest payment request can be relaunched")
    if latest[1] not in RELAUNCHABLE:
        raise PfmpError("not_relaunchable", f"a {latest[1]} request is not relaunched by hand")
    if await actions_sql.already_done(conn, "relaunch", payment_request_id=command.payment_request_id):
        raise PfmpError("already_relaunched", "this request was already relaunched")
    event = PaymentRetryRequested(producer=PRODUCER, pfmp_id=command.pfmp_id, student_id=student_id,
                                  payment_request_id=command.payment_request_id, requested_by=user_id,
                                  reason=command.reason)
    await write_outbox(conn, [event_row(topic, student_id, event)])  # keyed by student, as every PFMP event
    await actions_sql.audit(conn, user_id, "relaunch", pfmp_id=command.pfmp_id,
                            payment_request_id=command.payment_request_id)
    log.info("payment_relaunch_requested", pfmp_id=str(command.pfmp_id),
             payment_request_id=str(command.payment_request_id), reason=command.reason)
    return event


@dataclass(frozen=True)
class RetryBlockedPayment:
    """Command: evaluate again the PFMP's latest request `payment_request_id`, which the calculator blocked."""

    pfmp_id: UUID
    payment_request_id: UUID
    user_id: str


async def retry_blocked_payment(conn: Connection, command: RetryBlockedPayment, *,
                                topic: str) -> PaymentRetryRequested:
    """"Retenter": may be asked again after each fix (an evaluation changes nothing when the reasons still
    hold). The gateway also checks a request it holds on every data change; a fix no event brings (a setting
    the operators corrected) needs this."""
    user_id = require_user(command.user_id)
    student_id = await conn.fetchval("SELECT student_id FROM pfmps WHERE pfmp_id = $1 AND NOT deleted",
                                     command.pfmp_id)
    if student_id is None:
        raise PfmpError("unknown_pfmp", f"no live PFMP {command.pfmp_id}")
    latest = await actions_sql.latest_request(conn, command.pfmp_id)
    if latest is None or latest[0] != command.payment_request_id:
        raise PfmpError("not_latest_request", "only the PFMP's latest payment request can be retried")
    if latest[1] not in RETRIABLE:
        raise PfmpError("not_retriable", f"a {latest[1]} request is not retried by hand")
    event = PaymentRetryRequested(producer=PRODUCER, pfmp_id=command.pfmp_id, student_id=student_id,
                                  payment_request_id=command.payment_request_id, requested_by=user_id,
                                  reason=RETRY_REASON)
    await write_outbox(conn, [event_row(topic, student_id, event)])  # keyed by student, as every PFMP event
    await actions_sql.audit(conn, user_id, "retry_blocked", pfmp_id=command.pfmp_id,
                            payment_request_id=command.payment_request_id)
    log.info("payment_retry_of_blocked_requested", pfmp_id=str(command.pfmp_id),
             payment_request_id=str(command.payment_request_id))
    return event
