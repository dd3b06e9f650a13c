"""What pfmp learns from the calculator, the gateway and documents to guard its life cycle: the state of
each PFMP's payment requests (locks edits and deletions) and the decisions of each schooling (validation
needs an issued DA). Older events are dropped and counted, as in the students projection."""

from __future__ import annotations

import structlog
from aplypro_contracts import (
    DocumentReady,
    PaymentRequestBlocked,
    PaymentRequested,
    PaymentRequestSent,
    PaymentRequestStateChanged,
)
from aplypro_servicekit.consumer import EventHandler
from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import lifecycle_sql as sql

log = structlog.get_logger(__name__)
CONSUMER = "payment-facts"


def _dropped(applied: bool, event_type: str, aggregate_id: object, version: int) -> None:
    if not applied:
        log.info("stale_event_dropped", event_type=event_type, aggregate_id=str(aggregate_id), version=version)


async def on_payment_requested(conn: Connection, event: PaymentRequested) -> None:
    applied = await sql.calculator_state(conn, event.payment_request_id, event.pfmp_id, event.version, "pending",
                                         event.occurred_at, created=True, event_type=event.event_type)
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_payment_blocked(conn: Connection, event: PaymentRequestBlocked) -> None:
    # Parked (only parking reasons): the request stays pending; otherwise it is incomplete.
    state = "pending" if event.parked else "incomplete"
    applied = await sql.calculator_state(conn, event.payment_request_id, event.pfmp_id, event.version, state,
                                         event.occurred_at, created=False, event_type=event.event_type)
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_payment_sent(conn: Connection, event: PaymentRequestSent) -> None:
    applied = await sql.gateway_state(conn, event.payment_request_id, event.pfmp_id, event.version, "sent",
                                      event.occurred_at, event_type=event.event_type)
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_payment_state_changed(conn: Connection, event: PaymentRequestStateChanged) -> None:
    applied = await sql.gateway_state(conn, event.payment_request_id, event.pfmp_id, event.version, event.state,
                                      event.occurred_at, event_type=event.event_type)
    _dropped(applied, event.event_type, event.payment_request_id, event.version)


async def on_document_ready(conn: Connection, event: DocumentReady) -> None:
    if event.kind == "liquidation":  # an état liquidatif: not a decision
        return
    applied = await sql.record_decision(conn, event.schooling_id, event.kind, event.version)
    _dropped(applied, event.event_type, event.schooling_id, event.version)


HANDLERS: dict[str, EventHandler] = {
    "PaymentRequested": on_payment_requested,
    "PaymentRequestBlocked": on_payment_blocked,
    "PaymentRequestSent": on_payment_sent,
    "PaymentRequestStateChanged": on_payment_state_changed,
    "DocumentReady": on_document_ready,
}
