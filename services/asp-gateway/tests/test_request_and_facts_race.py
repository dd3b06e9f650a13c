"""A RIB committed while its request is being recorded is never lost: the request leaves in a file.

The race (issue 9, "silently unpaid", seen by the whole suite on 4 December): the consumer of students'
facts flags the student's pending requests for a new check in the same transaction as the facts. If the
request was being inserted by the other consumer at that moment, the flag found no row; the build then
evaluated the new request before the facts were committed, blocked it (`missing_rib`) and cleared its
flag, and the facts, committed just after, woke nothing. The test plays that order step by step, through the
per-event handlers (the consumers' fallback) and through their batch handlers (projection_batch).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection, projection_batch
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import RibRecorded

from .conftest import IBANS, UAI, VERSIONS, register, request

pytestmark = pytest.mark.integration


def _rib(student_id: uuid.UUID) -> RibRecorded:
    return RibRecorded(producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
                       owner_type="personal", holder_name="ZORGLUB Léa", iban=IBANS[0], bic="AGRIFRPP",
                       version=next(VERSIONS))


async def _apply(conn: Any, topic: str, event: Any, batch: bool) -> None:
    handlers = projection.HANDLERS_BY_TOPIC[topic]
    if batch:
        await projection_batch.batch_handler(handlers)(conn, [event])
    else:
        await handlers[event.event_type](conn, event)


async def _state_and_reasons(pool: asyncpg.Pool, payment_request_id: uuid.UUID) -> tuple[str, list[str]]:
    row = await pool.fetchrow("SELECT state, blocking_reasons FROM payment_requests WHERE payment_request_id = $1",
                              payment_request_id)
    assert row is not None
    return row["state"], list(row["blocking_reasons"])


@pytest.mark.parametrize("batch", [False, True], ids=["per_event", "batch"])
async def test_facts_committed_while_their_request_is_recorded_still_release_it(
    pool: asyncpg.Pool, options: BuildOptions, database_url: str, batch: bool
) -> None:
    student_id, schooling_id = await register(pool, 0, with_rib=False)
    event = request(student_id, schooling_id)
    settings = {"search_path": options.schema}
    requests_consumer = await asyncpg.connect(database_url, server_settings=settings)
    facts_consumer = await asyncpg.connect(database_url, server_settings=settings)
    facts_may_commit = asyncio.Event()

    async def facts() -> None:
        await facts_consumer.execute("BEGIN")
        await _apply(facts_consumer, "ribs", _rib(student_id), batch)
        await facts_may_commit.wait()
        await facts_consumer.execute("COMMIT")

    try:
        await requests_consumer.execute("BEGIN")
        await _apply(requests_consumer, "calculator", event, batch)  # recorded, not committed yet
        facts_task = asyncio.create_task(facts())
        await asyncio.sleep(0.5)  # the facts' transaction flags the student's requests: none visible yet
        await requests_consumer.execute("COMMIT")
        await asyncio.sleep(0.5)
        await build_payment_file(pool, options)  # a build between the request's commit and the facts'
        facts_may_commit.set()
        await facts_task
    finally:
        await requests_consumer.close()
        await facts_consumer.close()
    await build_payment_file(pool, options)

    assert await _state_and_reasons(pool, event.payment_request_id) == ("sent", [])


@pytest.mark.parametrize("batch", [False, True], ids=["per_event", "batch"])
async def test_facts_for_a_request_already_flagged_hold_it_from_a_build_until_they_commit(
    pool: asyncpg.Pool, options: BuildOptions, database_url: str, batch: bool
) -> None:
    """The flag writes only rows not flagged yet (recheck_flags), but locks every pending one: a request still
    flagged from an earlier fact is skipped by a build that runs while a RIB is being committed, instead of being
    checked without it, blocked `missing_rib` with its flag cleared, and left waiting for good."""
    student_id, schooling_id = await register(pool, 0, with_rib=False)
    event = request(student_id, schooling_id)
    async with pool.acquire() as conn, conn.transaction():
        await _apply(conn, "calculator", event, batch)
    flagged = "SELECT recheck FROM payment_requests WHERE payment_request_id = $1"
    assert await pool.fetchval(flagged, event.payment_request_id) is True  # flagged since its arrival
    facts_consumer = await asyncpg.connect(database_url, server_settings={"search_path": options.schema})
    try:
        await facts_consumer.execute("BEGIN")
        await _apply(facts_consumer, "ribs", _rib(student_id), batch)  # flags it again: not committed yet
        during = await build_payment_file(pool, options)
        await facts_consumer.execute("COMMIT")
    finally:
        await facts_consumer.close()
    await build_payment_file(pool, options)

    assert await _state_and_reasons(pool, event.payment_request_id) == ("sent", [])
    assert (during.records, during.blocked) == (0, 0)  # the locked request was left for a later build


async def test_a_flag_that_waited_for_a_build_is_written_once_the_build_cleared_it(
    pool: asyncpg.Pool, options: BuildOptions, database_url: str
) -> None:
    """The other order: a build holds the request (checked without the RIB: blocked, flag cleared) while the RIB's
    fact flags it. The flag waits for the build's commit, then reads the cleared flag from the row the build left
    (not from its own earlier snapshot, where the request was still flagged) and writes it: the next build sends
    the request."""
    student_id, schooling_id = await register(pool, 0, with_rib=False)
    event = request(student_id, schooling_id)
    async with pool.acquire() as conn, conn.transaction():
        await _apply(conn, "calculator", event, True)
    settings = {"search_path": options.schema}
    build = await asyncpg.connect(database_url, server_settings=settings)
    facts_consumer = await asyncpg.connect(database_url, server_settings=settings)
    try:
        await build.execute("BEGIN")  # what a build's check does to a request it finds without a RIB
        await build.execute("SELECT 1 FROM payment_requests WHERE payment_request_id = $1 FOR UPDATE",
                            event.payment_request_id)
        await facts_consumer.execute("BEGIN")
        facts = asyncio.create_task(_apply(facts_consumer, "ribs", _rib(student_id), True))
        await asyncio.sleep(0.5)
        assert not facts.done()  # the flag's statement, begun while the request was flagged, waits for the lock
        await build.execute("UPDATE payment_requests SET recheck = false, blocking_reasons = '{missing_rib}' "
                            "WHERE payment_request_id = $1", event.payment_request_id)
        await build.execute("COMMIT")
        await facts
        await facts_consumer.execute("COMMIT")
    finally:
        await build.close()
        await facts_consumer.close()
    assert await pool.fetchval("SELECT recheck FROM payment_requests WHERE payment_request_id = $1",
                               event.payment_request_id) is True
    await build_payment_file(pool, options)
    assert await _state_and_reasons(pool, event.payment_request_id) == ("sent", [])


async def test_a_request_already_flagged_is_locked_not_rewritten(pool: asyncpg.Pool) -> None:
    """recheck_flags writes only the rows not flagged yet: a flagged request keeps its row version (xmin)."""
    student_id, schooling_id = await register(pool, 0, with_rib=False)
    event = request(student_id, schooling_id)
    async with pool.acquire() as conn, conn.transaction():
        await _apply(conn, "calculator", event, True)
    version = "SELECT xmin::text, recheck FROM payment_requests WHERE payment_request_id = $1"
    before = await pool.fetchrow(version, event.payment_request_id)
    assert before is not None
    assert before["recheck"] is True
    async with pool.acquire() as conn, conn.transaction():
        await _apply(conn, "ribs", _rib(student_id), True)
    assert await pool.fetchrow(version, event.payment_request_id) == before
