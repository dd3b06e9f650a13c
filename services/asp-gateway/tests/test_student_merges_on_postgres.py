"""A merge of two students (StudentsMerged, imports.md §5.8) on the real PostgreSQL: what the gateway keeps by the
merged student's id moves to the survivor, the ASP individual id with it (no second individual created at the
ASP; both known: the survivor's kept and the pair shown to operators), requests already sent keep what they were
sent with, and the merged student's events read later land on the survivor."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.entrypoints.gauges import GATEWAY_GAUGES
from aplypro_asp_gateway.service_layer import projection, projection_batch
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import (
    Establishment,
    PaymentRequested,
    RibRecorded,
    SchoolingOpened,
    SchoolingPriced,
    StudentsMerged,
)

from .conftest import IBANS, MEF, UAI, VERSIONS, add_rib, feed, issue_decision, register, request
from .ingest_world import ingest, integrations
from .return_samples import integration_line

pytestmark = pytest.mark.integration


def merge(survivor: uuid.UUID, merged: uuid.UUID) -> StudentsMerged:
    return StudentsMerged(producer="students", survivor_id=survivor, merged_id=merged, version=1)


async def sent_and_integrated(pool: asyncpg.Pool, options: BuildOptions, event: PaymentRequested, n: int) -> str:
    """The request in a file of its own, integrated by the ASP with the ids of integration_line(n); its file."""
    await feed(pool, projection.on_payment_requested, event)
    built = await build_payment_file(pool, options)
    assert (built.file_name, built.records) != (None, 0)
    record_id = await pool.fetchval("SELECT record_id FROM file_records WHERE payment_request_id = $1",
                                    event.payment_request_id)
    [answer] = await ingest(pool, options, integrations(str(built.file_name), [], integration_line(record_id, n)))
    assert answer.applied == 1
    return str(built.file_name)


async def next_file(pool: asyncpg.Pool, options: BuildOptions, blocked: int = 0) -> bytes:
    built = await build_payment_file(pool, options)
    assert (built.records, built.blocked) == (1, blocked)
    content: bytes = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", built.file_name)
    assert xsd.violations(content) == []
    return content


async def row(pool: asyncpg.Pool, payment_request_id: uuid.UUID) -> dict[str, Any]:
    found = await pool.fetchrow("SELECT * FROM payment_requests WHERE payment_request_id = $1", payment_request_id)
    assert found is not None
    return dict(found)


async def test_only_the_merged_student_known_to_the_asp_its_individual_goes_with_the_survivors_next_record(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    merged, merged_schooling = await register(pool, 1)
    await sent_and_integrated(pool, options, request(merged, merged_schooling), 0)  # individual 1200000
    survivor, survivor_schooling = await register(pool, 2)

    await feed(pool, projection.HANDLERS_BY_TOPIC["students"]["StudentsMerged"], merge(survivor, merged))

    for table in ("schoolings", "payment_requests", "attributive_decisions"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE student_id = $1", merged) == 0, table
    assert await pool.fetchval("SELECT count(*) FROM ribs WHERE student_id = $1", merged) == 0
    assert await pool.fetchval("SELECT count(*) FROM ribs WHERE student_id = $1", survivor) == 1  # its own stays

    # The survivor's first PFMP: the ASP already holds this person, as individual 1200000; no second creation.
    await feed(pool, projection.on_payment_requested, request(survivor, survivor_schooling))
    content = await next_file(pool, options)
    assert b'<INDIVIDU idIndividu="1200000" modification="O">' in content
    assert b"idDoss" not in content  # the survivor's own schooling: a new dossier

    # A replayed merge (another event id) changes nothing; no conflict: only one of them was known.
    await feed(pool, projection.HANDLERS_BY_TOPIC["students"]["StudentsMerged"], merge(survivor, merged))
    assert await pool.fetchval("SELECT count(*) FROM asp_individual_conflicts") == 0


async def test_both_known_to_the_asp_the_survivors_individual_is_kept_and_the_pair_shown_to_operators(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    survivor, survivor_schooling = await register(pool, 2)
    merged, merged_schooling = await register(pool, 1)
    await sent_and_integrated(pool, options, request(survivor, survivor_schooling, 1), 1)  # 1200001, 7600001
    earlier = request(merged, merged_schooling, 1)
    merged_file = await sent_and_integrated(pool, options, earlier, 0)  # answered last: 1200000, 7600000

    await feed(pool, projection.HANDLERS_BY_TOPIC["students"]["StudentsMerged"], merge(survivor, merged))

    conflicts = [dict(r) for r in await pool.fetch(
        "SELECT survivor_id, merged_id, kept_id, other_id FROM asp_individual_conflicts")]
    assert conflicts == [{"survivor_id": survivor, "merged_id": merged, "kept_id": "1200001", "other_id": "1200000"}]
    [gauge] = [g.sql for g in GATEWAY_GAUGES if g.name == "aplypro_asp_individual_conflicts"]
    assert await pool.fetchval(gauge) == 1
    # The request already sent keeps what it was sent with: its file, its record and the ids the ASP gave it.
    sent = await row(pool, earlier.payment_request_id)
    assert (sent["student_id"], sent["file_name"], sent["asp_individual_id"], sent["asp_dossier_id"]) == (
        survivor, merged_file, "1200000", "7600000")

    # The survivor's next PFMP, in a new schooling (a new dossier), carries the survivor's individual, though the
    # merged one was answered last.
    new_schooling = await open_schooling(pool, survivor)
    later = request(survivor, new_schooling, 1)
    await feed(pool, projection.on_payment_requested, later)
    content = await next_file(pool, options)
    assert b'<INDIVIDU idIndividu="1200001" modification="O">' in content
    assert b"idDoss" not in content
    # ... and its answer, naming that individual, is applied (both ids are this one person's now).
    built_name = await pool.fetchval("SELECT file_name FROM payment_requests WHERE payment_request_id = $1",
                                     later.payment_request_id)
    record_id = await pool.fetchval("SELECT record_id FROM file_records WHERE payment_request_id = $1",
                                    later.payment_request_id)
    line = f"{record_id};1200001;;7600009;DOSS;9800009;50009;1200001"
    [answer] = await ingest(pool, options, integrations(str(built_name), [], line))
    assert (answer.applied, answer.unmatched) == (1, 0)

    # A new PFMP of each old schooling: the ASP holds each dossier under the individual it was created with.
    await feed(pool, projection.on_payment_requested, request(survivor, survivor_schooling, 2))
    content = await next_file(pool, options)
    assert b'<INDIVIDU idIndividu="1200001" modification="O">' in content
    assert b'<DOSSIER idDoss="7600001" modification="N">' in content
    moved = request(survivor, merged_schooling, 2)
    await feed(pool, projection.on_payment_requested, moved)
    content = await next_file(pool, options)
    assert b'<INDIVIDU idIndividu="1200000" modification="O">' in content
    assert b'<DOSSIER idDoss="7600000" modification="N">' in content


async def test_the_merged_students_events_read_after_the_merge_land_on_the_survivor(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    merged, merged_schooling = await register(pool, 1)
    survivor, _ = await register(pool, 2)
    await feed(pool, projection.HANDLERS_BY_TOPIC["students"]["StudentsMerged"], merge(survivor, merged))

    # The calculator's request carrying the merged id, read after the merge: one alone (the consumer's
    # per-event path), then two in a batch (its batch path).
    alone = request(merged, merged_schooling, 1)
    await feed(pool, projection.HANDLERS_BY_TOPIC["calculator"]["PaymentRequested"], alone)
    batch = [request(merged, merged_schooling, 2), request(merged, merged_schooling, 3)]
    async with pool.acquire() as conn, conn.transaction():
        await projection_batch.batch_handler(projection.HANDLERS_BY_TOPIC["calculator"])(conn, batch)
    for event in (alone, *batch):
        assert (await row(pool, event.payment_request_id))["student_id"] == survivor
    # a schooling of the merged student first read now lands on the survivor too
    late = SchoolingOpened.model_validate({**(await _opened_of(pool, merged_schooling)), "schooling_id": uuid.uuid4(),
                                           "student_id": merged, "version": 1, "event_id": uuid.uuid4()})
    await feed(pool, projection.HANDLERS_BY_TOPIC["students"]["SchoolingOpened"], late)
    assert await pool.fetchval("SELECT student_id FROM schoolings WHERE schooling_id = $1", late.schooling_id) == (
        survivor)

    # They leave with the survivor's data, the merged schooling's DA and one creation of the survivor's
    # individual at a time (the three PFMPs of one not-yet-integrated dossier: one per file, §4.3).
    content = await next_file(pool, options, blocked=2)
    assert b"<NOMUSAGE>ZORGLUB2</NOMUSAGE>" in content


async def test_the_merged_students_rib_moves_where_the_survivor_has_none_and_the_survivors_next_one_applies(
    pool: asyncpg.Pool,
) -> None:
    merged, _ = await register(pool, 1)
    survivor, _ = await register(pool, 2, with_rib=False)
    for _ in range(3):  # the merged student's fourth RIB at the school: its version is past the survivor's
        await add_rib(pool, merged, 1)
    held = await pool.fetchrow("SELECT rib_id, version FROM ribs WHERE student_id = $1", merged)
    assert held is not None
    await feed(pool, projection.HANDLERS_BY_TOPIC["students"]["StudentsMerged"], merge(survivor, merged))
    assert await pool.fetchval("SELECT rib_id FROM ribs WHERE student_id = $1", survivor) == held["rib_id"]

    # The students service re-publishes it as the survivor's first RIB there, then the survivor changes it.
    await feed(pool, projection.HANDLERS_BY_TOPIC["ribs"]["RibRecorded"], rib_of(survivor, held["rib_id"], 1))
    changed = rib_of(survivor, uuid.uuid4(), 2)
    await feed(pool, projection.HANDLERS_BY_TOPIC["ribs"]["RibRecorded"], changed)
    assert await pool.fetchval("SELECT rib_id FROM ribs WHERE student_id = $1", survivor) == changed.rib_id
    # a RIB of the merged student read late is its own (its version counts its RIBs), never the survivor's
    await feed(pool, projection.HANDLERS_BY_TOPIC["ribs"]["RibRecorded"],
               rib_of(merged, uuid.uuid4(), held["version"] + 1))
    assert await pool.fetchval("SELECT rib_id FROM ribs WHERE student_id = $1", survivor) == changed.rib_id


def rib_of(student: uuid.UUID, rib_id: uuid.UUID, version: int) -> RibRecorded:
    return RibRecorded(producer="students", rib_id=rib_id, student_id=student, establishment_uai=UAI,
                       owner_type="personal", holder_name="ZORGLUB2 Léa", iban=IBANS[2], bic="AGRIFRPP",
                       version=version)


async def test_a_moved_schooling_follows_the_survivor(pool: asyncpg.Pool) -> None:
    merged, schooling_id = await register(pool, 1)
    survivor, _ = await register(pool, 2)
    version = await pool.fetchval("SELECT version FROM schoolings WHERE schooling_id = $1", schooling_id)
    moved = SchoolingOpened.model_validate({
        **(await _opened_of(pool, schooling_id)), "student_id": survivor, "version": version + 1,
        "event_id": uuid.uuid4()})
    assert await pool.fetchval("SELECT student_id FROM schoolings WHERE schooling_id = $1", schooling_id) == merged
    await feed(pool, projection.on_schooling_opened, moved)
    assert await pool.fetchval("SELECT student_id FROM schoolings WHERE schooling_id = $1", schooling_id) == survivor


async def open_schooling(pool: asyncpg.Pool, student: uuid.UUID) -> uuid.UUID:
    """Another schooling of the student, priced, with its DA."""
    schooling = uuid.uuid4()
    await feed(pool, projection.on_schooling_opened, SchoolingOpened(
        producer="students", schooling_id=schooling, student_id=student, establishment=Establishment(uai=UAI, name="LP"),
        class_label="TLE PRO MELEC", school_year=2025, mef=MEF, start_date=date(2025, 9, 1), version=next(VERSIONS)))
    await feed(pool, projection.on_schooling_priced, SchoolingPriced(
        producer="calculator", schooling_id=schooling, student_id=student, school_year=2025, priced=True,
        daily_rate_cents=1500, yearly_cap_cents=60000))
    await issue_decision(pool, student, schooling)
    return schooling


async def _opened_of(pool: asyncpg.Pool, schooling_id: uuid.UUID) -> dict[str, object]:
    held = await pool.fetchrow("SELECT * FROM schoolings WHERE schooling_id = $1", schooling_id)
    assert held is not None
    return {"producer": "students", "schooling_id": held["schooling_id"], "class_label": "TLE PRO MELEC",
            "establishment": {"uai": UAI, "name": "LP test"}, "school_year": 2025, "mef": MEF.model_dump(),
            "start_date": held["start_date"]}


async def sent_not_answered(pool: asyncpg.Pool, options: BuildOptions, event: PaymentRequested) -> tuple[str, int]:
    """The request in a file of its own, uploaded, no answer yet: its file and record id."""
    await feed(pool, projection.on_payment_requested, event)
    built = await build_payment_file(pool, options)
    assert built.records == 1
    assert built.file_name is not None
    assert (await row(pool, event.payment_request_id))["state"] == "sent"
    record_id = await pool.fetchval("SELECT record_id FROM file_records WHERE payment_request_id = $1",
                                    event.payment_request_id)
    return built.file_name, record_id


async def test_a_creation_in_flight_at_the_merge_answered_with_another_individual_goes_to_the_conflicts(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    survivor, survivor_schooling = await register(pool, 2)
    merged, merged_schooling = await register(pool, 1)
    await sent_and_integrated(pool, options, request(survivor, survivor_schooling, 1), 1)  # individual 1200001
    # The merged student's first PFMP is at the ASP, creating its individual, when the merge arrives.
    in_flight = request(merged, merged_schooling, 1)
    file_name, record_id = await sent_not_answered(pool, options, in_flight)
    await feed(pool, projection.HANDLERS_BY_TOPIC["students"]["StudentsMerged"], merge(survivor, merged))
    assert await pool.fetchval("SELECT count(*) FROM asp_individual_conflicts") == 0  # only one known so far

    # The answer brings the merged student's new individual 1200000: applied to the request (now the survivor's),
    # the pair recorded as when both were known at the merge, never an unmatched line.
    [answer] = await ingest(pool, options, integrations(file_name, [], integration_line(record_id, 0)))
    assert (answer.applied, answer.unmatched) == (1, 0)
    assert await pool.fetchval("SELECT count(*) FROM unmatched_return_lines") == 0
    answered = await row(pool, in_flight.payment_request_id)
    assert (answered["state"], answered["student_id"], answered["asp_individual_id"]) == (
        "integrated", survivor, "1200000")
    conflicts = [dict(r) for r in await pool.fetch(
        "SELECT survivor_id, merged_id, kept_id, other_id FROM asp_individual_conflicts")]
    assert conflicts == [{"survivor_id": survivor, "merged_id": merged, "kept_id": "1200001", "other_id": "1200000"}]
    [gauge] = [g.sql for g in GATEWAY_GAUGES if g.name == "aplypro_asp_individual_conflicts"]
    assert await pool.fetchval(gauge) == 1

    # The survivor's next PFMP carries its own individual, though the merged one was answered last; the answer
    # replayed is a duplicate.
    await feed(pool, projection.on_payment_requested, request(survivor, await open_schooling(pool, survivor), 1))
    content = await next_file(pool, options)
    assert b'<INDIVIDU idIndividu="1200001" modification="O">' in content
    [again] = await ingest(pool, options, integrations(file_name, [], integration_line(record_id, 0), ""))
    assert (again.duplicates, again.unmatched) == (1, 0)


async def test_a_creation_in_flight_at_the_merge_gives_its_individual_to_a_survivor_without_one(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    survivor, _ = await register(pool, 2)
    merged, merged_schooling = await register(pool, 1)
    in_flight = request(merged, merged_schooling, 1)
    file_name, record_id = await sent_not_answered(pool, options, in_flight)
    await feed(pool, projection.HANDLERS_BY_TOPIC["students"]["StudentsMerged"], merge(survivor, merged))

    [answer] = await ingest(pool, options, integrations(file_name, [], integration_line(record_id, 0)))
    assert (answer.applied, answer.unmatched) == (1, 0)
    assert await pool.fetchval("SELECT count(*) FROM asp_individual_conflicts") == 0
    assert await pool.fetchval("SELECT asp_individual_id FROM kept_asp_individuals WHERE student_id = $1",
                               survivor) == "1200000"
    # The survivor's first PFMP: the ASP already holds this person; no second individual is created.
    await feed(pool, projection.on_payment_requested, request(survivor, await open_schooling(pool, survivor), 1))
    content = await next_file(pool, options)
    assert b'<INDIVIDU idIndividu="1200000" modification="O">' in content
