"""What the students service learns of a schooling's money from the other services' events, to refuse a
producer's retraction that would need a human (imports.md §3.4, `retract_refused`): a décision
d'attribution issued (documents' DocumentReady of kind attribution) or a payment requested (the
calculator's PaymentRequested). A read model of their public events; never their schema.

Facts only accumulate: an abrogated decision or a cancelled payment still happened, and undoing it is the
human's part of the retraction.
"""

from __future__ import annotations

from uuid import UUID

import structlog
from aplypro_contracts import DocumentReady, Envelope, PaymentRequested
from aplypro_servicekit.consumer import EventHandler
from aplypro_servicekit.db import Connection

from aplypro_students.adapters.postgres_money_facts import Fact, is_retracted, record_fact

log = structlog.get_logger(__name__)
CONSUMER = "money-facts"


async def on_document_ready(conn: Connection, event: DocumentReady) -> None:
    # An abrogation or a retrait comes after an attribution; a liquidation is not a decision.
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


HANDLERS: dict[str, EventHandler] = {
    "DocumentReady": on_document_ready,
    "PaymentRequested": on_payment_requested,
}
