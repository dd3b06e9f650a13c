"""A RIB committed while a build is choosing its requests is never lost: the request leaves in a file.

The race (issue 9, "silently unpaid"): a build that read a request's data in the snapshot of the statement
that also locked it could lock a request whose RIB a consumer committed in between; it then saw no RIB,
blocked the request (`missing_rib`) and cleared the consumer's wake-up flag, so the request waited forever.
The window lies inside one statement. The test opens it on purpose: the build locks requests without data,
then skips twenty thousand locked elsewhere, before it reaches the watched ones; the consumer commits the
moment the build has taken its first lock. The old build blocked every watched request the commit reached.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import RibRecorded
from aplypro_servicekit.db import create_pool

from .conftest import IBANS, UAI, VERSIONS, feed, lea_request, register, request

pytestmark = pytest.mark.integration

FREE = 100  # requests without data, locked (and blocked) by every build before the others
HELD = 20000  # then requests without data locked by another transaction: every build skips them, one by one
WATCHED = 10  # students per round whose RIB arrives during the build; their requests come last
HITS, MAX_ROUNDS = 2, 6  # rounds until two commits landed inside a build's statement (all did, on this machine)
FREE_SCHOOLING = uuid.UUID("f4ee0000-0000-4000-8000-000000000000")
HELD_SCHOOLING = uuid.UUID("4e1d0000-0000-4000-8000-000000000000")

# Run by the consumer in one message, so no round trip to the client delays the commit: waits (at most 5 s)
# until the build's transaction has an id, which its first row lock gives it, then commits.
_COMMIT_ONCE_LOCKING = """
DO $$
DECLARE deadline timestamptz := clock_timestamp() + interval '5 seconds';
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN clock_timestamp() > deadline
            OR (SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = {pid});
    END LOOP;
END $$;
COMMIT;
"""


async def _add_filler(pool: asyncpg.Pool, schooling_id: uuid.UUID, count: int) -> None:
    # Test data only: requests of students the projection knows nothing about.
    await pool.execute(
        "INSERT INTO payment_requests (payment_request_id, pfmp_id, schooling_id, student_id, amount_cents, "
        "day_count, pfmp_rank, requested_event_id, correlation_id, requested_at) "
        "SELECT gen_random_uuid(), gen_random_uuid(), $1, gen_random_uuid(), 30000, 20, 1, gen_random_uuid(), "
        "gen_random_uuid(), now() FROM generate_series(1, $2)",
        schooling_id, count,
    )


def _rib(student_id: uuid.UUID) -> RibRecorded:
    return RibRecorded(producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
                       owner_type="personal", holder_name="ZORGLUB Léa", iban=IBANS[0], bic="AGRIFRPP",
                       version=next(VERSIONS))


async def _round(pool: asyncpg.Pool, builder: asyncpg.Pool, builder_pid: int, options: BuildOptions,
                 database_url: str) -> tuple[list[uuid.UUID], bool]:
    """One build during which WATCHED RIBs are committed; True when that build took their requests, i.e.
    the commit landed after its snapshot and before it reached them (otherwise it skipped them, locked)."""
    students = [await register(pool, 0, with_rib=False) for _ in range(WATCHED)]
    events = [request(*s) for s in students]
    for event in events:
        await feed(pool, projection.on_payment_requested, event)
    watched = [e.payment_request_id for e in events]
    # No request has complete data, so the build's first row lock is taken by the statement that locks the
    # others, on the oldest free request; it then skips the held ones before it reaches the watched ones.
    await pool.execute("UPDATE payment_requests SET recheck = true WHERE schooling_id = $1", FREE_SCHOOLING)
    # Visible without waiting for the WAL flush: the commit lands at once.
    consumer = await asyncpg.connect(database_url, server_settings={"search_path": options.schema,
                                                                    "synchronous_commit": "off"})
    try:
        # The consumer writes the RIBs and flags the requests through the real projection, not committed yet.
        await consumer.execute("BEGIN")
        for student_id, _ in students:
            await projection.on_rib_recorded(consumer, _rib(student_id))
        build = asyncio.create_task(build_payment_file(builder, options))
        await consumer.execute(_COMMIT_ONCE_LOCKING.format(pid=builder_pid))
        await build
    finally:
        await consumer.close()
    # Taken by the build: sent (or, the bug, blocked with the wake-up cleared); skipped ones are still flagged.
    taken = await pool.fetchval("SELECT count(*) FROM payment_requests WHERE payment_request_id = ANY($1) "
                                "AND (state = 'sent' OR NOT recheck)", watched)
    # Requests skipped by the build are sent now, so the next round's build has no complete request.
    await build_payment_file(builder, options)
    return watched, taken > 0


async def test_a_rib_committed_while_a_build_locks_its_requests_is_never_lost(
    pool: asyncpg.Pool, options: BuildOptions, database_url: str
) -> None:
    options = replace(options, max_records=FREE + WATCHED)  # every watched request fits in one build
    builder = await create_pool(database_url, options.schema, size=1)  # one connection, watched by its pid
    await _add_filler(pool, FREE_SCHOOLING, FREE)
    await _add_filler(pool, HELD_SCHOOLING, HELD)
    holder = await asyncpg.connect(database_url, server_settings={"search_path": options.schema})
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT 1 FROM payment_requests WHERE schooling_id = $1 FOR KEY SHARE", HELD_SCHOOLING)
        builder_pid = await builder.fetchval("SELECT pg_backend_pid()")
        watched: list[uuid.UUID] = []
        in_window = 0
        for _ in range(MAX_ROUNDS):
            ids, hit = await _round(pool, builder, builder_pid, options, database_url)
            watched += ids
            in_window += hit
            if in_window == HITS:
                break
    finally:
        await holder.close()
        await builder.close()

    assert in_window > 0, "no commit landed inside a build's statement: the test proved nothing"
    rows = await pool.fetch(
        "SELECT pr.state, pr.blocking_reasons, r.rib_id IS NOT NULL AS has_rib FROM payment_requests pr "
        "LEFT JOIN ribs r ON r.student_id = pr.student_id WHERE pr.payment_request_id = ANY($1)", watched)
    assert len(rows) == len(watched)
    stuck = [(r["blocking_reasons"], r["has_rib"]) for r in rows if r["state"] != "sent"]
    assert stuck == [], f"{len(stuck)} of {len(watched)} requests with all their data were never sent"


def test_requests_whose_data_arrived_after_the_locks_never_push_a_file_past_its_limit() -> None:
    # Locked: two with complete data (the limit), then two without; the RIB of the last one arrived since.
    ready = [lea_request(record_id=1), lea_request(record_id=2)]
    without = [lea_request(record_id=3, rib=None), lea_request(record_id=4)]
    kept = requests_repo.within_limit([*ready, *without], limit=2)
    # The late one waits for the next build; the one without a RIB is still checked (its blocking reasons).
    assert [r.record_id for r in kept] == [1, 2, 3]
    assert [r.record_id for r in requests_repo.within_limit([*ready, *without], limit=3)] == [1, 2, 3, 4]
