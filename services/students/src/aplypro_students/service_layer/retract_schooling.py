"""Applies a producer's SchoolingRetracted (imports.md §3.4): a schooling it reported by mistake.

Runs inside the consumer's transaction. The record must be one of the producer's, applied here, and the
version newer than the last one applied (else skipped as stale, like a report). While the schooling has
neither a décision d'attribution nor a payment request (the money facts read model), it is hidden for
good: SchoolingHiddenChanged(hidden) makes every consumer drop it, as for a learner who never came, and
staff cannot reintegrate it. Otherwise `retract_refused`: undoing a decision or a payment is a human's.
The student stays (other schoolings may be theirs); a schooling it closed (§5.5) is not reopened.
"""

from __future__ import annotations

from typing import Literal

import structlog
from aplypro_contracts.inbound import SchoolingRetracted
from aplypro_servicekit.db import Connection

from aplypro_students.adapters import postgres, postgres_inbound
from aplypro_students.adapters.postgres_money_facts import facts_of
from aplypro_students.domain.inbound import (
    ProducerMismatch,
    RetractRefused,
    UnknownRecord,
    check_scope,
    provider_of,
)
from aplypro_students.service_layer.hide_schooling import set_hidden
from aplypro_students.service_layer.inbound_schoolings import Producer, is_stale

log = structlog.get_logger(__name__)


async def apply_retracted(conn: Connection, event: SchoolingRetracted, *, producer: Producer,
                          topic: str) -> Literal["retracted", "already_retracted", "stale"]:
    """Raises an `InboundRejected` (rolled back by the caller's savepoint) for a retraction we refuse."""
    if event.producer != producer.name:
        raise ProducerMismatch("producer: not the owner of this topic")
    await postgres.lock_reconciliation(conn)  # as a report does: the same locks, in the same order
    record = await postgres_inbound.record(conn, producer.name, event.source_record_id)
    if record is None or record.schooling_id is None:
        raise UnknownRecord("source_record_id: no schooling of this producer was applied under this id")
    if is_stale(producer, event, record.source_version):
        return "stale"
    outcome: Literal["retracted", "already_retracted"] = "already_retracted"
    if record.retracted_at is None:
        uai = await postgres_inbound.schooling_uai(conn, record.schooling_id)
        assert uai is not None  # inbound_records.schooling_id references schoolings
        check_scope(producer.name, producer.ministries, await postgres_inbound.target(conn, uai))
        facts = await facts_of(conn, record.schooling_id)
        if facts.decision_issued or facts.payment_requested:
            raise RetractRefused("source_record_id: the schooling has a décision d'attribution or a payment "
                                 "request; APLyPro staff must handle it")
        await set_hidden(conn, uai, record.schooling_id, True, by=provider_of(producer.name), topic=topic)
        await postgres_inbound.mark_retracted(conn, record.schooling_id)
        outcome = "retracted"
    await postgres_inbound.record_version(conn, producer.name, event.source_record_id, event.source_version,
                                          event.event_id, retracted=True)
    log.info("inbound_schooling_retracted", producer=producer.name, event_id=str(event.event_id),
             schooling_id=str(record.schooling_id), outcome=outcome)
    return outcome
