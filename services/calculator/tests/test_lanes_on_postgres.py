"""The calculator's one subscription read through the real consumer with side-by-side lanes, on the real
PostgreSQL: a student's facts arrive on several topics (schooling, DA, PFMP), all keyed by the student and so on
the same partition number of each. Run in two lanes, two transactions that cannot see each other's writes, the
PFMP's handler would find no schooling and the schooling's no PFMP: a validated PFMP left without a request,
silently unpaid (lifecycles.md §5)."""

from __future__ import annotations

import asyncio
import contextlib
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
    ExclusionChanged,
    PfmpState,
    PfmpValidated,
    SchoolingOpened,
    StudentsMerged,
    default_registry,
    to_wire,
)
from aplypro_contracts.topics import DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS
from aplypro_servicekit.consumer import BatchHandler, EventConsumer
from aplypro_servicekit.db import Connection

from .calculator_world import TERMINALE, UAI, Calc, settings_for

pytestmark = pytest.mark.integration


def as_records(topic: str, events: list[tuple[Any, Envelope]], partition_of: dict[Any, int],
               offsets: dict[tuple[str, int], int]) -> list[Any]:
    """Each event a record of `topic`, keyed by its key (a student, a UAI), on that key's partition."""
    records = []
    for student, event in events:
        body, headers = to_wire(event)
        partition = partition_of[student]
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), -1) + 1
        records.append(SimpleNamespace(topic=topic, partition=partition, offset=offset, key=str(student).encode(),
                                       value=body, headers=list(headers.items())))
    return records


def racing_consumer(db: asyncpg.Pool, namespace: str) -> EventConsumer:
    """The calculator's consumer (its one subscription), two lanes, each lane's commit held for the other's writes."""
    subscription = build_spec(settings_for(namespace, evaluation_cooldown="none")).subscriptions[0]
    assert subscription.batch_handler is not None
    return EventConsumer(name=subscription.consumer_name, service="calculator", pool=db,
                         registry=default_registry(), handlers=subscription.handlers,
                         batch_handler=both_written_before_either_commits(subscription.batch_handler), lanes=2)


def both_written_before_either_commits(handler: BatchHandler) -> BatchHandler:
    """The batch handler, each lane waiting after its writes until the other lane wrote too: the worst timing for
    two lanes sharing a student, made certain (a lane alone goes on after a short wait)."""
    barrier = asyncio.Barrier(2)

    async def apply(conn: Connection, events: list[Any]) -> None:
        await handler(conn, events)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(barrier.wait(), 1.0)

    return apply


# 4, the default count, is split right by the old topic-partition split too (each topic's partition p in lane
# p % 2); 3 and 5 are not.
@pytest.mark.parametrize("partitions", [3, 4, 5])
async def test_a_students_facts_on_three_topics_in_one_batch_make_its_request_whatever_the_lanes(
    calc: Calc, db: asyncpg.Pool, namespace: str, partitions: int
) -> None:
    consumer = racing_consumer(db, namespace)
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


async def test_an_exclusion_lifted_beside_a_new_pfmp_of_its_school_in_another_lane_releases_it(
    calc: Calc, db: asyncpg.Pool, namespace: str
) -> None:
    """An ExclusionChanged is keyed by UAI: it runs beside the students' events of its school. Lifted while a new
    PFMP of that school is evaluated in the other lane, the lift must reach that PFMP: each waits for the other."""
    await calc.feed(exclusion(excluded=True, version=1))
    consumer = racing_consumer(db, namespace)
    student = uuid.uuid4()
    schooling = SchoolingOpened(producer="students", schooling_id=uuid.uuid4(), student_id=student,
                                establishment=Establishment(uai=UAI, name="LP test"), class_label="TLE",
                                school_year=2025, mef=TERMINALE, start_date=date(2025, 9, 1), end_date=None, version=1)
    pfmp = PfmpState(pfmp_id=uuid.uuid4(), schooling_id=schooling.schooling_id, student_id=student,
                     start_date=date(2025, 10, 6), end_date=date(2025, 10, 17), day_count=10, status="validated",
                     created_seq=1, rank=1, version=2)
    partition_of: dict[Any, int] = {UAI: 0, student: 1}  # two lanes
    offsets: dict[tuple[str, int], int] = {}
    batch = [*as_records(STUDENTS_EVENTS, [(UAI, exclusion(excluded=False, version=2))], partition_of, offsets),
             *as_records(DOCUMENTS_EVENTS, [(student, calc.decision(schooling))], partition_of, offsets),
             *as_records(STUDENTS_EVENTS, [(student, schooling)], partition_of, offsets),
             *as_records(PFMP_EVENTS, [(student, PfmpValidated(producer="pfmp", pfmp=pfmp))], partition_of, offsets)]
    await consumer.process_batch(batch)
    assert consumer.processed == len(batch)
    assert await db.fetchval("SELECT count(*) FROM exclusions") == 0
    row = await db.fetchrow("SELECT state, reasons FROM payment_requests WHERE pfmp_id = $1", pfmp.pfmp_id)
    assert row is not None
    assert (row["state"], list(row["reasons"])) == ("ready", [])


async def test_a_merge_beside_a_new_pfmp_of_the_merged_student_in_another_lane_keeps_one_yearly_cap(
    calc: Calc, db: asyncpg.Pool, namespace: str
) -> None:
    """A StudentsMerged is keyed by the survivor: it runs beside the merged student's own events in another lane
    (or instance). A new PFMP of the merged student stored there while the merge re-points the rest must still
    join the survivor's pool: one yearly cap for one person, never two (calculation.md §5.6)."""
    # terminale: 20 € a day, 1,000 € a year; the survivor is already owed 800 €
    survivor, merged = await calc.schooling(), await calc.schooling()
    await calc.validate(calc.pfmp(survivor, 40))
    late = calc.pfmp(merged, 30, start=date(2026, 1, 5)).model_copy(update={"status": "validated"})
    moved = merged.model_copy(update={"student_id": survivor.student_id, "version": merged.version + 1,
                                      "event_id": uuid.uuid4()})
    consumer = racing_consumer(db, namespace)
    partition_of: dict[Any, int] = {survivor.student_id: 0, merged.student_id: 1}  # two lanes
    offsets: dict[tuple[str, int], int] = {}
    merge = StudentsMerged(producer="students", survivor_id=survivor.student_id, merged_id=merged.student_id,
                           version=1)
    batch = [*as_records(STUDENTS_EVENTS, [(survivor.student_id, merge), (survivor.student_id, moved)],
                         partition_of, offsets),
             *as_records(PFMP_EVENTS, [(merged.student_id, PfmpValidated(producer="pfmp", pfmp=late))],
                         partition_of, offsets)]
    await consumer.process_batch(batch)
    assert consumer.processed == len(batch)
    assert await db.fetchval("SELECT student_id FROM pfmps WHERE pfmp_id = $1", late.pfmp_id) == survivor.student_id
    assert await calc.amount(late.pfmp_id) == 200  # what is left of the survivor's 1,000 €
    owed = await db.fetchval("SELECT sum(amount_cents) FROM payment_requests")
    assert owed == 100000


def exclusion(*, excluded: bool, version: int) -> ExclusionChanged:
    return ExclusionChanged(producer="students", uai=UAI, excluded=excluded, version=version)
