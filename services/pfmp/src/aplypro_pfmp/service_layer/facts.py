"""What pfmp learns from the calculator, the gateway and documents to guard its life cycle: the state of
each PFMP's payment requests (locks edits and deletions) and the decisions of each schooling (validation
needs an issued DA: known from its DocumentIssued, not its PDF), and what the student page shows of payments
(amounts, blocking keys). Older events are dropped and counted, as in the students projection."""

from __future__ import annotations

import structlog
from aplypro_contracts import (
    AmountComputed,
    DocumentIssued,
    DocumentReady,
    PaymentRequestBlocked,
    PaymentRequested,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestStateChanged,
    SchoolingPriced,
)
from aplypro_servicekit.consumer import EventHandler, through_parts
from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import decision_content_sql, indicator_facts_sql, payments_sql
from aplypro_pfmp.adapters import lifecycle_sql as sql

log = structlog.get_logger(__name__)
CONSUMER = "payment-facts"


def _dropped(applied: bool, event_type: str, aggregate_id: object, version: int) -> None:
    if not applied:
        log.info("stale_event_dropped", event_type=event_type, aggregate_id=str(aggregate_id), version=version)


async def on_payment_requested(conn: Connection, event: PaymentRequested) -> None:
    applied = await sql.calculator_state(conn, event.payment_request_id, event.pfmp_id, event.version, "pending",
                                         event.occurred_at, created=True, event_type=event.event_type)
    if applied:
        await payments_sql.requested(conn, event.payment_request_id, event.amount_cents)
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_payment_blocked(conn: Connection, event: PaymentRequestBlocked) -> None:
    # Parked (only parking reasons): the request stays pending; otherwise it is incomplete.
    state = "pending" if event.parked else "incomplete"
    applied = await sql.calculator_state(conn, event.payment_request_id, event.pfmp_id, event.version, state,
                                         event.occurred_at, created=False, event_type=event.event_type)
    if applied:
        await payments_sql.blocked(conn, event.payment_request_id, event.reasons)
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_payment_sent(conn: Connection, event: PaymentRequestSent) -> None:
    applied = await sql.gateway_state(conn, event.payment_request_id, event.pfmp_id, event.version, "sent",
                                      event.occurred_at, event_type=event.event_type)
    if applied:
        await payments_sql.gateway_moved(conn, event.payment_request_id, (), event.amount_cents)
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_payment_state_changed(conn: Connection, event: PaymentRequestStateChanged) -> None:
    applied = await sql.gateway_state(conn, event.payment_request_id, event.pfmp_id, event.version, event.state,
                                      event.occurred_at, event_type=event.event_type)
    paid = None if event.paid_amount is None else indicator_facts_sql.cents_of(event.paid_amount)
    if applied:
        await payments_sql.gateway_moved(conn, event.payment_request_id, event.reasons)
        await indicator_facts_sql.asp_paid(conn, event.payment_request_id, paid, event.recovery)
    elif await indicator_facts_sql.asp_paid_missing(conn, event.payment_request_id, event.version, paid,
                                                    event.recovery):
        return  # a topic replay filled what was projected before migration 0016
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_payment_held(conn: Connection, event: PaymentRequestHeld) -> None:
    """Why the gateway holds a request back: shown on the student page, no guard reads it."""
    applied = await payments_sql.held(conn, event.payment_request_id, event.pfmp_id, event.version, event.reasons,
                                      event.occurred_at)
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_amount_computed(conn: Connection, event: AmountComputed) -> None:
    """The PFMP's amount before any request (and after a change): shown on the student page."""
    if not await payments_sql.amount_computed(conn, event.pfmp_id, event.amount_cents, event.occurred_at):
        log.info("stale_event_dropped", event_type=event.event_type, aggregate_id=str(event.pfmp_id), version=0)


async def on_schooling_priced(conn: Connection, event: SchoolingPriced) -> None:
    """The schooling's barème: the indicators' yearly caps and the theoretical amount of pending PFMPs."""
    if not await indicator_facts_sql.schooling_priced(conn, event.schooling_id, event.daily_rate_cents,
                                                      event.yearly_cap_cents, event.occurred_at):
        log.info("stale_event_dropped", event_type=event.event_type, aggregate_id=str(event.schooling_id), version=0)


async def on_document(conn: Connection, event: DocumentIssued | DocumentReady) -> None:
    """A decision exists from its issue (documents.md §3): DocumentIssued records it, so validation never waits
    for the renderer, and its time is the DA's issue for the stale-DA check. DocumentReady of the version held
    then is the same fact: nothing changes, nothing is counted. One whose DocumentIssued was never seen (older
    than issue-then-render, or replayed) records the decision as before."""
    if event.kind == "liquidation":  # an état liquidatif: not a decision
        return
    recorded = await sql.record_decision(conn, event.schooling_id, event.kind, event.version, event.occurred_at,
                                         event_type=event.event_type)
    if recorded == "held" and event.kind == "attribution":
        # a topic replay notes a DA held since before migration 0018 (a no-op once its issue is noted)
        await decision_content_sql.note_issue(conn, event.schooling_id, event.occurred_at,
                                              replayed_version=event.version)
    _dropped(recorded != "stale", event.event_type, event.schooling_id, event.version)


HANDLERS: dict[str, EventHandler] = {
    "PaymentRequested": on_payment_requested,
    "PaymentRequestBlocked": on_payment_blocked,
    "PaymentRequestSent": on_payment_sent,
    "PaymentRequestStateChanged": on_payment_state_changed,
    "DocumentIssued": on_document,
    "DocumentReady": on_document,
    "PaymentRequestHeld": on_payment_held,
    "AmountComputed": on_amount_computed,
    "SchoolingPriced": on_schooling_priced,
}
# One per payment file's step, read as its parts.
HANDLERS["PaymentRequestsMoved"] = through_parts(HANDLERS)
