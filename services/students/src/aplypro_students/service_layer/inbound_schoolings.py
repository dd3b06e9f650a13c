"""Applies one schooling pushed by another ministry's system: check it, skip a stale version, reconcile.

Runs inside the consumer's transaction (state, inbox row and outgoing events commit together). An accepted
event goes through `import_students`, like a one-row file of the establishment: the same reconciliation
and the same events, and nothing when nothing changed. Nothing is ever inferred from an event that does
not come (partial mode: no departure is detected).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import structlog
from aplypro_contracts.inbound import SchoolingReported, SchoolingRetracted
from aplypro_servicekit.db import Connection
from prometheus_client import Counter

from aplypro_students.adapters import postgres, postgres_inbound
from aplypro_students.adapters.postgres_calendar import calendar_of
from aplypro_students.adapters.postgres_reference import eligible_mefs
from aplypro_students.domain.inbound import (
    ProducerMismatch,
    RecordRetracted,
    UnknownMef,
    UnknownSchoolYear,
    check_dates,
    check_ine,
    check_scope,
    provider_of,
    to_record,
)
from aplypro_students.service_layer.import_students import ImportStudents, import_students

log = structlog.get_logger(__name__)

INBOUND_STALE = Counter("aplypro_inbound_stale", "Inbound schooling events skipped: their source_version was "
                        "not newer than the one applied.", ["producer"])


@dataclass(frozen=True)
class Producer:
    """One configured producer: its id (owner of its topic) and the ministries it may report for."""

    name: str
    ministries: frozenset[str]


async def apply_reported(conn: Connection, event: SchoolingReported, *, producer: Producer, topic: str,
                         today: date, tolerance: timedelta) -> Literal["applied", "stale"]:
    """Raises an `InboundRejected` (rolled back by the caller's savepoint) for an event we refuse."""
    if event.producer != producer.name:
        raise ProducerMismatch("producer: not the owner of this topic")
    check_ine(event.student.ine)
    s = event.schooling
    target = await postgres_inbound.target(conn, s.establishment_uai)
    check_scope(producer.name, producer.ministries, target)
    assert target is not None  # check_scope refuses an unknown establishment
    if not await postgres_inbound.year_is_open(conn, s.school_year):
        raise UnknownSchoolYear("schooling.school_year: no MEF list is loaded for it")
    if not await eligible_mefs(conn, s.school_year, [s.mef_code]):
        raise UnknownMef("schooling.mef_code: not in the MEF list of schooling.school_year")
    check_dates(event, target.academy_code, tolerance, await calendar_of(conn, target.academy_code))
    # The reconciliation lock first, then row locks: two lanes never hold them in opposite orders.
    await postgres.lock_reconciliation(conn)
    record = await postgres_inbound.record(conn, producer.name, event.source_record_id)
    if record is not None and is_stale(producer, event, record.source_version):
        return "stale"
    if record is not None and record.retracted_at is not None:
        raise RecordRetracted("source_record_id: this record was retracted; report the schooling under a new id")
    command = ImportStudents(s.establishment_uai, [to_record(event)], source=provider_of(producer.name))
    await import_students(conn, command, today=today, topic=topic)
    # The schooling it landed in, so that a retraction of the record knows what to withdraw.
    schooling_id = await postgres_inbound.reported_schooling(conn, event.student.ine, s.establishment_uai,
                                                             s.school_year, s.class_label, s.mef_code)
    await postgres_inbound.record_version(conn, producer.name, event.source_record_id, event.source_version,
                                          event.event_id, schooling_id=schooling_id)
    return "applied"


def is_stale(producer: Producer, event: SchoolingReported | SchoolingRetracted, applied: int) -> bool:
    """A version not newer than the one applied: skipped and counted, not rejected (§3.4 step 3)."""
    if event.source_version > applied:
        return False
    INBOUND_STALE.labels(producer.name).inc()
    log.info("inbound_stale_skipped", producer=producer.name, event_id=str(event.event_id),
             event_type=event.event_type, source_version=event.source_version, applied_version=applied)
    return True
