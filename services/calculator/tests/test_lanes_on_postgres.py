"""The calculator's one subscription read through the real consumer with side-by-side lanes, on the real
PostgreSQL: a student's facts arrive on several topics (schooling, DA, PFMP), all keyed by the student and so on
the same partition number of each. Run in two lanes, two transactions that cannot see each other's writes, the
PFMP's handler would find no schooling and the schooling's no PFMP: a validated PFMP left without a request,
silently unpaid (lifecycles.md §5)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from aplypro_calculator.entrypoints.service import build_spec
from aplypro_contracts import (
    Envelope,
    Establishment,
    PfmpState,
    PfmpValidated,
    SchoolingOpened,
    default_registry,
    to_wire,
)
from aplypro_contracts.topics import DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS
from aplypro_servicekit.consumer import EventConsumer

from .calculator_world import TERMINALE, UAI, Calc, settings_for

pytestmark = pytest.mark.integration


def as_records(topic: str, events: list[tuple[uuid.UUID, Envelope]], partition_of: dict[uuid.UUID, int],
               offsets: dict[tuple[str, int], int]) -> list[Any]:
    """Each event a record of `topic`, keyed by its student, on its student's partition."""
    records = []
    for student, event in events:
        body, headers = to_wire(event)
        partition = partition_of[student]
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), -1) + 1
        records.append(SimpleNamespace(topic=topic, partition=partition, offset=offset, key=str(student).encode(),
                                       value=body, headers=list(headers.items())))
    return records


@pytest.mark.parametrize("partitions", [3, 4, 5])
async def test_a_students_facts_on_three_topics_in_one_batch_make_its_request_whatever_the_lanes(
    calc: Calc, db: asyncpg.Pool, namespace: str, partitions: int
) -> None:
    subscription = build_spec(settings_for(namespace, evaluation_cooldown="none")).subscriptions[0]
    consumer = EventConsumer(name=subscription.consumer_name, service="calculator", pool=db,
                             registry=default_registry(), handlers=subscription.handlers,
                             batch_handler=subscription.batch_handler, lanes=2)
    students = [uuid.uuid4() for _ in range(80)]
    partition_of = {student: n % partitions for n, student in enumerate(students)}
    schoolings = {s: SchoolingOpened(producer="students", schooling_id=uuid.uuid4(), student_id=s,
                                     establishment=Establishment(uai=UAI, name="LP test"), class_label="TLE",
                                     school_year=2025, mef=TERMINALE, start_date=date(2025, 9, 1), end_date=None,
                                     version=1)
                  for s in students}
    pfmps = {s: PfmpState(pfmp_id=uuid.uuid4(), schooling_id=o.schooling_id, student_id=s,
                          start_date=date(2025, 10, 6), end_date=date(2025, 10, 6) + timedelta(days=11),
                          day_count=10, status="validated", created_seq=1, rank=1, version=2)
             for s, o in schoolings.items()}
    offsets: dict[tuple[str, int], int] = {}
    # As a fetch returns them: each topic-partition's records together, the DAs first, the PFMPs last.
    batch = [*as_records(DOCUMENTS_EVENTS, [(s, calc.decision(o)) for s, o in schoolings.items()], partition_of,
                         offsets),
             *as_records(STUDENTS_EVENTS, list(schoolings.items()), partition_of, offsets),
             *as_records(PFMP_EVENTS, [(s, PfmpValidated(producer="pfmp", pfmp=p)) for s, p in pfmps.items()],
                         partition_of, offsets)]
    await consumer.process_batch(batch)
    rows = await db.fetch("SELECT pfmp_id, state, reasons FROM payment_requests")
    states = {r["pfmp_id"]: (r["state"], list(r["reasons"])) for r in rows}
    assert consumer.processed == len(batch)
    assert {p.pfmp_id: states.get(p.pfmp_id) for p in pfmps.values()} == {
        p.pfmp_id: ("ready", []) for p in pfmps.values()}
