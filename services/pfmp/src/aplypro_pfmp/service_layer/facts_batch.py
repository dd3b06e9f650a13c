"""The payment-facts consumer's batch handler (issue 12): a batch's payment events read their requests once,
are applied in Python in batch order with the per-event handlers' rules (facts.py, the reference and the
fallback when a batch fails), and written once: a few statements a batch instead of 3-5 an event."""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import (
    PaymentRequestBlocked,
    PaymentRequested,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestStateChanged,
    with_parts,
)
from aplypro_servicekit import tracing
from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import indicator_facts_sql, payment_facts_sql, payments_sql
from aplypro_pfmp.adapters.payment_facts_sql import RequestRow
from aplypro_pfmp.service_layer import facts

log = structlog.get_logger(__name__)

PaymentEvent = (PaymentRequested | PaymentRequestBlocked | PaymentRequestSent | PaymentRequestStateChanged
                | PaymentRequestHeld)
FOLDED = frozenset({"PaymentRequested", "PaymentRequestBlocked", "PaymentRequestSent",
                    "PaymentRequestStateChanged", "PaymentRequestHeld"})
_KNOWN_TO_ASP = ("integrated", "paid", "unpaid")  # as lifecycle_sql.gateway_state


def is_newer(held: int, version: int) -> bool:
    """lifecycle_sql._NEWER: newer than the version held; 0 (an unversioned v1 event) over nothing or another 0."""
    return held < version or (version == 0 and held <= 0)


class Fold:
    """The batch's requests in memory, and what the per-event handlers would also have written."""

    def __init__(self, rows: dict[UUID, RequestRow]) -> None:
        self.rows = rows  # the rows read, then those the batch inserts
        self.changed: set[UUID] = set()
        self.known_to_asp: set[UUID] = set()
        self.stale: Counter[str] = Counter()

    def _row(self, event: PaymentEvent) -> RequestRow:
        """INSERT ... ON CONFLICT DO NOTHING: a request seen first here starts at the columns' defaults."""
        row = self.rows.get(event.payment_request_id)
        if row is None:
            row = self.rows[event.payment_request_id] = RequestRow(event.payment_request_id, event.pfmp_id,
                                                                   event.occurred_at)
        self.changed.add(event.payment_request_id)
        return row

    def apply(self, event: PaymentEvent) -> None:
        row = self._row(event)
        if isinstance(event, PaymentRequested | PaymentRequestBlocked):
            self._calculator(row, event)
        elif isinstance(event, PaymentRequestHeld):
            # payments_sql.held: the gateway's own sequence, no v0 rule; a hold dropped is not counted
            if row.held_version < event.version and row.asp_version < event.version:
                row.held_reasons, row.held_version = list(event.reasons), event.version
        elif isinstance(event, PaymentRequestSent | PaymentRequestStateChanged):
            self._gateway(row, event)
        else:  # a folded type in a model the fold does not know: the consumer replays the batch event by event
            raise TypeError(f"{event.event_type} as {type(event).__name__} is not folded")

    def _calculator(self, row: RequestRow, event: PaymentRequested | PaymentRequestBlocked) -> None:
        if not is_newer(row.calc_version, event.version):
            self.stale[event.event_type] += 1
            return
        row.calc_version = event.version
        if isinstance(event, PaymentRequested):  # calculator_state(created=True), then payments_sql.requested
            row.calc_state = "pending"
            row.requested_at = row.requested_at or event.occurred_at
            row.amount_cents, row.calc_reasons = event.amount_cents, []
        else:  # parked: only parking reasons, the request stays pending; then payments_sql.blocked
            row.calc_state = "pending" if event.parked else "incomplete"
            row.calc_reasons = list(event.reasons)

    def _gateway(self, row: RequestRow, event: PaymentRequestSent | PaymentRequestStateChanged) -> None:
        state = event.state if isinstance(event, PaymentRequestStateChanged) else "sent"
        paid = None
        if isinstance(event, PaymentRequestStateChanged) and event.paid_amount is not None:
            paid = indicator_facts_sql.cents_of(event.paid_amount)  # raises as the handler does: batch replayed
        if state in _KNOWN_TO_ASP:  # the event's PFMP, as gateway_state writes it, applied or stale
            self.known_to_asp.add(event.pfmp_id)
        if is_newer(row.asp_version, event.version):
            row.asp_state, row.asp_version = state, event.version
            if isinstance(event, PaymentRequestSent):  # payments_sql.gateway_moved with the amount sent
                row.asp_reasons, row.amount_cents = [], event.amount_cents
            else:  # gateway_moved without an amount, then indicator_facts_sql.asp_paid
                row.asp_reasons = list(event.reasons)
                row.paid_cents, row.recovery = paid, event.recovery
            return
        self.stale[event.event_type] += 1  # by gateway_state, a replay that fills the amounts below included
        if (isinstance(event, PaymentRequestStateChanged) and row.asp_version == event.version
                and row.paid_cents is None and paid is not None):
            row.paid_cents, row.recovery = paid, event.recovery  # asp_paid_missing


async def on_batch(conn: Connection, events: list[Any]) -> None:
    """The batch's payment events folded (one locked read, one write per table), its computed amounts in one
    statement; its other events (documents, barèmes: a DA's issue reads the barème, so they keep their order)
    through their per-event handlers in batch order. The three groups give the state they give in batch order:
    none reads or writes another's tables, but for stale_events, where each only adds counts."""
    # The gateway's groups (PaymentRequestsMoved) as the single events they stand for, where they stand: the fold
    # below then keeps each request's rules (versions, stale drops, first or last wins) exactly as before.
    events = with_parts(events)
    for event in events:
        if event.event_type not in FOLDED and event.event_type != "AmountComputed":
            with tracing.handling(event.event_id):
                await facts.HANDLERS[event.event_type](conn, event)
    # Each PFMP's computed amount: its own table, newest by time, nothing counted
    amounts = [(e.pfmp_id, e.amount_cents, e.occurred_at) for e in events if e.event_type == "AmountComputed"]
    if dropped := await payments_sql.amounts_computed(conn, amounts):
        log.info("stale_events_dropped", AmountComputed=dropped)
    folded = [e for e in events if e.event_type in FOLDED]
    if not folded:
        return
    rows = await payment_facts_sql.requests_for_update(conn, {e.payment_request_id for e in folded})
    existed = set(rows)
    fold = Fold(rows)
    for event in folded:
        fold.apply(event)
    await payment_facts_sql.write_requests(conn, (fold.rows[i] for i in fold.changed), existed)
    await payment_facts_sql.add_known_to_asp(conn, fold.known_to_asp)
    await payment_facts_sql.count_stale(conn, fold.stale)
    if fold.stale:
        log.info("stale_events_dropped", **fold.stale)
