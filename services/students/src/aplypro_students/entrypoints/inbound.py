"""Wiring of the inbound schoolings: one consumer per configured producer, rejections on its `.rejected` topic.

One consumer name per producer (`inbound-<producer>`) makes the inbox idempotent on (producer, event_id).
What the producer did wrong (contract errors, the rules of `domain/inbound.py`, a reused event id) goes to
`<its topic>.rejected`, which it may read; a failure of ours (a bug) goes to `<its topic>.dlt` for the
operators to replay once fixed (`aplypro dlt replay`). Transient errors are retried, never rejected.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from aplypro_contracts.inbound import inbound_registry, inbound_topic, rejections_topic
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import Connection
from aplypro_servicekit.deadletter import SourceRecord, dead_letter_row, reason_code
from aplypro_servicekit.outbox import OutboxRow
from aplypro_servicekit.runtime import Subscription

from aplypro_students.config import StudentsSettings
from aplypro_students.domain.inbound import REJECTION_CODES
from aplypro_students.service_layer.inbound_schoolings import Producer, apply_reported
from aplypro_students.service_layer.retract_schooling import apply_retracted

PARIS = ZoneInfo("Europe/Paris")  # "today" of a French school, for inferred closing dates
# dead-letter header → the public header the producer reads (docs/producers.md)
PUBLIC_HEADERS = {
    "dlt-reason-code": "reason-code", "dlt-reason": "reason", "dlt-source-topic": "source-topic",
    "dlt-source-partition": "source-partition", "dlt-source-offset": "source-offset", "dlt-attempts": "attempts",
    "dlt-body-truncated": "body-truncated",
}


def consumer_name(producer: str) -> str:
    return f"inbound-{producer}"


def rejection_row(record: SourceRecord, exc: BaseException, *, service: str, attempts: int,
                  consumer: str | None = None) -> OutboxRow:
    """The producer's bytes unchanged on `<topic>.rejected`, with why (a field named, never a value)."""
    row = dead_letter_row(record, exc, service=service, attempts=attempts, consumer=consumer)
    if reason_code(exc) not in REJECTION_CODES:
        return row  # our failure, not the producer's: the operators' dead-letter topic
    headers = {k: v for k, v in row.headers.items() if not k.startswith("dlt-")}
    headers |= {PUBLIC_HEADERS[k]: v for k, v in row.headers.items() if k in PUBLIC_HEADERS}
    if (event_id := _event_id(record.value)) is not None:
        headers["event-id"] = event_id
    return row._replace(topic=f"{record.topic}.rejected", headers=headers)


def _event_id(value: bytes) -> str | None:
    """The body's event_id if it is a UUID, even when the rest of the body is wrong."""
    try:
        body: Any = json.loads(value)
        return str(UUID(body["event_id"])) if isinstance(body, dict) else None
    except (ValueError, TypeError, KeyError):  # ValueError covers JSON and UUID errors
        return None


async def _on_reported(conn: Connection, event: Any, *, producer: Producer, settings: StudentsSettings) -> None:
    await apply_reported(conn, event, producer=producer, topic=settings.topic(STUDENTS_EVENTS),
                         today=datetime.now(PARIS).date(),
                         tolerance=timedelta(days=settings.inbound_start_tolerance_days))


async def _on_retracted(conn: Connection, event: Any, *, producer: Producer, settings: StudentsSettings) -> None:
    await apply_retracted(conn, event, producer=producer, topic=settings.topic(STUDENTS_EVENTS))


def inbound_subscriptions(settings: StudentsSettings) -> list[Subscription]:
    registry = inbound_registry()
    subscriptions = []
    for name, ministries in sorted(settings.inbound_producers.items()):
        producer = Producer(name, frozenset(ministries))
        subscriptions.append(Subscription(
            topics=[inbound_topic(name)], consumer_name=consumer_name(name),
            handlers={"SchoolingReported": partial(_on_reported, producer=producer, settings=settings),
                      "SchoolingRetracted": partial(_on_retracted, producer=producer, settings=settings)},
            registry=registry, dead_letter=rejection_row,
        ))
    return subscriptions


def rejection_topics(settings: StudentsSettings) -> list[str]:
    return [rejections_topic(name) for name in sorted(settings.inbound_producers)]
