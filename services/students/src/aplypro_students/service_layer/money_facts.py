"""What the students service learns of a schooling's money from the other services' events, to refuse a
producer's retraction that would need a human (imports.md §3.4, `retract_refused`): a décision
d'attribution issued (documents' DocumentIssued of kind attribution: the DA exists from its issue, and a payment
may leave before its PDF; or its DocumentReady, when the issue was not seen) or a payment requested (the
calculator's PaymentRequested). A read model of their public events; never their schema.

Facts only accumulate: an abrogated decision or a cancelled payment still happened, and undoing it is the
human's part of the retraction.

The asp-gateway's events give the other money fact: which RIB is frozen on a payment request in progress
(imports.md §8, `unarchivable_rib`). The gateway announces the request `ready` (PaymentRequestStateChanged v3,
with the RIB) in the transaction that builds it into a payment file: the RIB is frozen from that moment, before
the upload, since the file goes out with it whatever happens here. PaymentRequestSent (at the upload) names it
again; later states move the request on, and once it is paid, rejected or unpaid the RIB is free again. Every
event carries the gateway's version for the request: an older one never freezes or frees it again.

A poll's batch is applied by `on_batch` in a few statements whatever its size (the per-event handlers stay: the
consumer's fallback when a batch breaks a rule, and the reference the batch must match).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import (
    DocumentIssued,
    DocumentReady,
    Envelope,
    PaymentRequested,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestStateChanged,
    with_parts,
)
from aplypro_servicekit.consumer import EventHandler, through_parts
from aplypro_servicekit.db import Connection

from aplypro_students.adapters import postgres_rib_payments
from aplypro_students.adapters.postgres_money_facts import (
    Fact,
    is_retracted,
    record_fact,
    record_facts,
    retracted_among,
)
from aplypro_students.adapters.postgres_rib_payments import RequestRow

log = structlog.get_logger(__name__)
CONSUMER = "money-facts"
IN_PROGRESS = frozenset({"ready", "sent", "integrated"})  # lifecycles.md §2: ongoing, its RIB frozen


async def on_document(conn: Connection, event: DocumentIssued | DocumentReady) -> None:
    # An abrogation or a retrait comes after an attribution; a liquidation is not a decision. The earliest time
    # is kept, so the PDF's DocumentReady after its DocumentIssued changes nothing.
    if event.kind == "attribution":
        await _record(conn, event.schooling_id, "decision_issued_at", event)


async def on_payment_requested(conn: Connection, event: PaymentRequested) -> None:
    await _record(conn, event.schooling_id, "payment_requested_at", event)


async def _record(conn: Connection, schooling_id: UUID, fact: Fact, event: Envelope) -> None:
    await record_fact(conn, schooling_id, fact, event.occurred_at)
    if await is_retracted(conn, schooling_id):
        # Issued before its service heard of the retraction (the events cross): the operators must undo it.
        log.warning("money_fact_on_retracted_schooling", schooling_id=str(schooling_id), fact=fact,
                    event_id=str(event.event_id))
    else:
        log.info("money_fact_recorded", schooling_id=str(schooling_id), fact=fact)


async def on_payment_request_sent(conn: Connection, event: PaymentRequestSent) -> None:
    await _payment_state(conn, event, rib_id=event.rib_id, in_progress=True)


async def on_payment_request_state_changed(conn: Connection, event: PaymentRequestStateChanged) -> None:
    await _payment_state(conn, event, rib_id=event.rib_id, in_progress=event.state in IN_PROGRESS)


async def _payment_state(conn: Connection, event: PaymentRequestSent | PaymentRequestStateChanged, *,
                         rib_id: UUID | None, in_progress: bool) -> None:
    if not await postgres_rib_payments.record_request(conn, event.payment_request_id, event.student_id,
                                                      rib_id=rib_id, in_progress=in_progress,
                                                      version=event.version):
        log.info("stale_event_dropped", event_type=event.event_type,
                 payment_request_id=str(event.payment_request_id), version=event.version)


GatewayEvent = PaymentRequestSent | PaymentRequestStateChanged


async def on_batch(conn: Connection, events: list[Any]) -> None:
    """The batch as the handlers above would apply it in order: the two families touch different tables and
    neither reads the other's, so each is folded on its own (requests in batch order, facts as earliest times)."""
    # The gateway's groups as the single events they stand for, where they stand (so each request's versions and
    # stale drops stay the single events'), less their holds: this consumer never read PaymentRequestHeld.
    events = [e for e in with_parts(events) if not isinstance(e, PaymentRequestHeld)]
    # The registry hands every event as its type's latest model (older versions upcast).
    states = [e for e in events if isinstance(e, PaymentRequestSent | PaymentRequestStateChanged)]
    facts = [e for e in events if isinstance(e, DocumentIssued | DocumentReady | PaymentRequested)]
    if len(states) + len(facts) != len(events):  # an event in a model neither family knows: nothing is dropped,
        raise TypeError("an event of the batch is not folded")  # the consumer replays the batch event by event
    await _payment_states(conn, states)
    await _facts(conn, facts)


async def _payment_states(conn: Connection, events: list[GatewayEvent]) -> None:
    if not events:
        return
    rows = await postgres_rib_payments.requests_for_update(conn, list({e.payment_request_id for e in events}))
    new: set[UUID] = set()
    changed: dict[UUID, RequestRow] = {}
    stale: Counter[str] = Counter()
    for event in events:
        in_progress = event.state in IN_PROGRESS if isinstance(event, PaymentRequestStateChanged) else True
        row = rows.get(event.payment_request_id)
        if row is None:
            row = rows[event.payment_request_id] = RequestRow(event.payment_request_id, event.student_id,
                                                              event.rib_id, in_progress, event.version)
            new.add(row.payment_request_id)
        elif row.version < event.version or (row.version == 0 and event.version == 0):  # v0: last read wins
            row.in_progress, row.version = in_progress, event.version
            row.rib_id = event.rib_id if event.rib_id is not None else row.rib_id
        else:
            stale[event.event_type] += 1
            if event.rib_id is None or row.rib_id is not None:
                continue
            row.rib_id = event.rib_id  # a RIB is kept whatever the order (record_request)
        changed[row.payment_request_id] = row
    await postgres_rib_payments.write_requests(conn, list(changed.values()), new)
    if stale:
        log.info("stale_events_dropped", **stale)


async def _facts(conn: Connection, events: list[DocumentIssued | DocumentReady | PaymentRequested]) -> None:
    earliest: dict[UUID, tuple[datetime | None, datetime | None]] = {}
    seen: dict[UUID, list[tuple[Fact, str]]] = {}  # per schooling, its facts of the batch with their event ids
    for event in events:
        if isinstance(event, PaymentRequested):
            fact: Fact = "payment_requested_at"
        elif event.kind == "attribution":
            fact = "decision_issued_at"
        else:
            continue
        decision, payment = earliest.get(event.schooling_id, (None, None))
        if fact == "decision_issued_at":
            decision = event.occurred_at if decision is None else min(decision, event.occurred_at)
        else:
            payment = event.occurred_at if payment is None else min(payment, event.occurred_at)
        earliest[event.schooling_id] = (decision, payment)
        seen.setdefault(event.schooling_id, []).append((fact, str(event.event_id)))
    if not earliest:
        return
    await record_facts(conn, earliest)
    for schooling_id in sorted(await retracted_among(conn, list(earliest))):
        # Issued before its service heard of the retraction (the events crossed): the operators must undo it.
        log.warning("money_fact_on_retracted_schooling", schooling_id=str(schooling_id),
                    facts=sorted({fact for fact, _ in seen[schooling_id]}),
                    event_ids=[event_id for _, event_id in seen[schooling_id]])
    counts = Counter(fact for facts in seen.values() for fact, _ in facts)
    log.info("money_facts_recorded", schoolings=len(earliest), decisions_issued=counts["decision_issued_at"],
             payments_requested=counts["payment_requested_at"])


HANDLERS: dict[str, EventHandler] = {
    "DocumentIssued": on_document,
    "DocumentReady": on_document,
    "PaymentRequested": on_payment_requested,
    "PaymentRequestSent": on_payment_request_sent,
    "PaymentRequestStateChanged": on_payment_request_state_changed,
}
# One per payment file's step, read as its parts.
HANDLERS["PaymentRequestsMoved"] = through_parts(HANDLERS)
