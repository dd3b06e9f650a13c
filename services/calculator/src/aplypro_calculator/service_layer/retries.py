"""Retrying a failed payment request (lifecycles.md §2, Retries): always through a new request.

Two triggers: the director's "relancer" (PaymentRetryRequested) for a `rejected` or `unpaid` latest request,
and a new RIB (RibRecorded) for a `validated` PFMP whose latest request was rejected for its bank details.
The new request is created `pending` with no due time, so the recomputation of its pool that follows
evaluates it at once, like a rectification's. Whatever is not retried is logged with why (ids only: the
RIB event's bank details are never read, stored or logged).
"""

from __future__ import annotations

from typing import Any

import structlog
from aplypro_contracts import PaymentRetryRequested, RibRecorded
from aplypro_contracts.ids import new_uuid
from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters import postgres_requests, postgres_retries
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_requests import NewRequest
from aplypro_calculator.domain.requests import (
    BANK_DETAILS_REJECTIONS,
    RetryFacts,
    relaunch_refusal,
    rib_retry_refusal,
)
from aplypro_calculator.service_layer.events import Cause

log = structlog.get_logger(__name__)

RetryEvent = PaymentRetryRequested | RibRecorded


def _facts(row: dict[str, Any]) -> RetryFacts:
    return RetryFacts(pfmp_status=row["status"], deleted=row["deleted"], amount_cents=row["amount_cents"],
                      latest_request_id=row["payment_request_id"], latest_state=row["request_state"],
                      asp_reasons=tuple(row["asp_reasons"] or ()))


def _new_request(row: dict[str, Any], cause: Cause) -> NewRequest:
    # The request of a rectified PFMP stays a rectification: the corrected total against the same base.
    rectification = row["status"] == "rectified"
    return NewRequest(new_uuid(), row["pfmp_id"], "pending", row["amount_cents"], (),
                      kind="rectification" if rectification else "payment",
                      base_cents=row["paid_cents"] if rectification else None,
                      cause_event_id=cause.event_id, correlation_id=cause.correlation_id)  # due at once


async def retry_payments(conn: Connection, events: list[RetryEvent], causes: dict[PoolKey, Cause]) -> None:
    """Create the new requests these events call for; add their pools to `causes` (evaluated there)."""
    for event in events:  # in order: a later retry of the same PFMP sees the request an earlier one created
        if isinstance(event, PaymentRetryRequested):
            await _relaunch(conn, event, causes)
    ribs = [e for e in events if isinstance(e, RibRecorded)]
    if ribs:
        await _after_new_ribs(conn, ribs, causes)


async def _relaunch(conn: Connection, event: PaymentRetryRequested, causes: dict[PoolKey, Cause]) -> None:
    row = (await postgres_retries.latest_requests(conn, [event.pfmp_id])).get(event.pfmp_id)
    refusal = "unknown_pfmp" if row is None else relaunch_refusal(_facts(row), event.payment_request_id)
    if row is None or refusal is not None:
        log.info("payment_retry_ignored", event_id=str(event.event_id), pfmp_id=str(event.pfmp_id),
                 payment_request_id=str(event.payment_request_id), why=refusal,
                 latest_state=None if row is None else row["request_state"])
        return
    await _create(conn, [row], Cause.of(event), causes)


async def _after_new_ribs(conn: Connection, events: list[RibRecorded], causes: dict[PoolKey, Cause]) -> None:
    # A RIB is for one establishment: only the PFMPs of the student's schoolings there may be cured by it.
    by_place = {(e.student_id, e.establishment_uai.upper()): e for e in events}
    rows = await postgres_retries.rejected_at(conn, list(by_place), BANK_DETAILS_REJECTIONS)
    retried: dict[Cause, list[dict[str, Any]]] = {}
    for row in rows:
        refusal = rib_retry_refusal(_facts(row))
        if refusal is not None:
            log.info("payment_retry_not_automatic", pfmp_id=str(row["pfmp_id"]),
                     payment_request_id=str(row["payment_request_id"]), why=refusal)
            continue
        rib = by_place[(row["student_id"], row["uai"])]  # the latest RIB there, in this batch
        retried.setdefault(Cause.of(rib), []).append(row)
    for cause, cured in retried.items():
        await _create(conn, cured, cause, causes)


async def _create(conn: Connection, rows: list[dict[str, Any]], cause: Cause, causes: dict[PoolKey, Cause]) -> None:
    await postgres_requests.insert_requests(conn, [_new_request(row, cause) for row in rows])
    for row in rows:
        causes[(row["student_id"], row["mef_code"], row["school_year"])] = cause
        log.info("payment_retried", pfmp_id=str(row["pfmp_id"]), retried_request_id=str(row["payment_request_id"]),
                 state=row["request_state"])

