"""Retrying a failed payment request (lifecycles.md §2, Retries): always through a new request.

Three triggers: the director's "relancer" (PaymentRetryRequested) for a `rejected` or `unpaid` latest
request (the same event naming an `incomplete` latest request is the director's "retenter": that request is
evaluated again, not replaced); and, for a `validated` PFMP whose latest request was rejected for a recognised reason
(asp-exchange.md §6.1), a new RIB for its establishment (RibRecorded) or a change of the student's address
(StudentRegistered, StudentIdentityChanged or StudentAddressChanged, each with the full identity, whose address
fingerprint differs from the one held). The new request is created
`pending` with no due time, so the recomputation of its pool that follows evaluates it at once, like a
rectification's. Whatever is not retried is logged with why (ids only: the RIB's bank details and the
student's identity are never stored or logged; of the address only a salted fingerprint is kept).

A student seen for the first time (registered before the calculator kept fingerprints) has no fingerprint to
compare with: the event counts as a change when it occurred after the rejection was recorded, since the
students service publishes a student event only when the identity changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from aplypro_contracts import (
    PaymentRetryRequested,
    RibRecorded,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentRegistered,
    StudentState,
)
from aplypro_contracts.ids import new_uuid
from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters import postgres_requests, postgres_retries
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_requests import NewRequest
from aplypro_calculator.domain.addresses import address_fingerprint
from aplypro_calculator.domain.requests import (
    RECOGNISED_REJECTIONS,
    RetryFacts,
    automatic_retry_refusal,
    relaunch_refusal,
)
from aplypro_calculator.service_layer.events import Cause

log = structlog.get_logger(__name__)

RetryEvent = PaymentRetryRequested | RibRecorded | StudentState
# the events this module handles (each student event carries the full identity, address included)
RETRY_EVENTS = (PaymentRetryRequested, RibRecorded, StudentRegistered, StudentIdentityChanged, StudentAddressChanged)


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
    students = [e for e in events if isinstance(e, StudentState)]
    if students:
        await _after_address_changes(conn, students, causes)


async def _relaunch(conn: Connection, event: PaymentRetryRequested, causes: dict[PoolKey, Cause]) -> None:
    row = (await postgres_retries.latest_requests(conn, [event.pfmp_id])).get(event.pfmp_id)
    if row is not None and row["request_state"] == "incomplete" and row["payment_request_id"] == event.payment_request_id:
        # "Retenter" (lifecycles.md §2): a blocked request is evaluated again with what is known now, in its
        # pool; never replaced. Still blocked: it keeps its reasons (an event only if they changed).
        causes[(row["student_id"], row["mef_code"], row["school_year"])] = Cause.of(event)
        log.info("payment_reevaluation_asked", event_id=str(event.event_id), pfmp_id=str(event.pfmp_id),
                 payment_request_id=str(event.payment_request_id))
        return
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
    rows = await postgres_retries.rejected_at(conn, list(by_place), RECOGNISED_REJECTIONS)
    await _retry_cured(conn, rows, lambda row: by_place[(row["student_id"], row["uai"])], "rib", causes)


async def _after_address_changes(conn: Connection, events: list[StudentState],
                                 causes: dict[PoolKey, Cause]) -> None:
    # The newest identity of each student in the batch: by the students service's identity version (one
    # sequence per student, whatever the replicas' clocks), then occurred_at, as the fingerprints are kept.
    newest: dict[Any, StudentState] = {}
    for e in events:
        if e.student_id not in newest or _order(newest[e.student_id]) <= _order(e):
            newest[e.student_id] = e
    prints = {sid: address_fingerprint(sid, e.identity.address.lines, e.identity.address.postal_code,
                                       e.identity.address.city_insee, e.identity.address.country_insee)
              for sid, e in newest.items()}
    held = await postgres_retries.record_addresses(
        conn, [(sid, prints[sid], newest[sid].version, newest[sid].occurred_at) for sid in newest])
    # A kept fingerprint that differs from the one held: the address changed. None held: see the docstring.
    changed = [sid for sid, (before, kept) in held.items() if kept and before != prints[sid]]
    if not changed:
        return
    rows = await postgres_retries.rejected_of(conn, changed, RECOGNISED_REJECTIONS)
    rows = [r for r in rows if held[r["student_id"]][0] is not None
            or r["rejected_at"] < newest[r["student_id"]].occurred_at]
    await _retry_cured(conn, rows, lambda row: newest[row["student_id"]], "address", causes)


def _order(event: StudentState) -> tuple[int, datetime]:
    return event.version, event.occurred_at


async def _retry_cured(conn: Connection, rows: list[dict[str, Any]], trigger: Callable[[dict[str, Any]], RetryEvent],
                       change: str, causes: dict[PoolKey, Cause]) -> None:
    """New requests for the rows the change may cure; the others are logged with why (ids only)."""
    retried: dict[Cause, list[dict[str, Any]]] = {}
    for row in rows:
        refusal = automatic_retry_refusal(_facts(row))
        if refusal is not None:
            log.info("payment_retry_not_automatic", pfmp_id=str(row["pfmp_id"]),
                     payment_request_id=str(row["payment_request_id"]), why=refusal, change=change)
            continue
        retried.setdefault(Cause.of(trigger(row)), []).append(row)  # the latest change, in this batch
    for cause, cured in retried.items():
        await _create(conn, cured, cause, causes)


async def _create(conn: Connection, rows: list[dict[str, Any]], cause: Cause, causes: dict[PoolKey, Cause]) -> None:
    await postgres_requests.insert_requests(conn, [_new_request(row, cause) for row in rows])
    for row in rows:
        causes[(row["student_id"], row["mef_code"], row["school_year"])] = cause
        log.info("payment_retried", pfmp_id=str(row["pfmp_id"]), retried_request_id=str(row["payment_request_id"]),
                 state=row["request_state"])

