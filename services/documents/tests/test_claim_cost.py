"""A DA claim's seed costs the queue rows it looks at: not the schoolings already issued, nor the DAs that cannot be
issued yet.

The seed walked the queue in schooling-id order, and the planner joined it to `schoolings` and `pricing` by
merge join along their primary keys: each seed read every schooling below the first queued one. Since the
seed's class is the lowest queued id's, the issued ones pile up there, and a national start (650,000 DAs) paid
a walk growing with every class issued. The seed looks each queued row's inputs up by key (a nested loop), and
still walks by id: in the queue's own order the DAs that wait for good are the oldest, in front of every seed.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
from aplypro_documents.adapters.postgres import SEED_SQL

SCHOOLINGS = 20_000


async def _seed_blocks(conn: asyncpg.pool.PoolConnectionProxy) -> int:
    plan = json.loads(await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + SEED_SQL, []))
    top = plan[0]["Plan"]
    return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])


async def _a_school_each(conn: asyncpg.pool.PoolConnectionProxy, ids: list[uuid.UUID]) -> None:
    """A student and a schooling for each id, each in its own school: a claim of one DA is one seed."""
    await conn.execute("INSERT INTO students (student_id, identity, version) "
                       "SELECT i, '{}'::jsonb, 1 FROM unnest($1::uuid[]) i", ids)
    await conn.execute(
        "INSERT INTO schoolings (schooling_id, student_id, school_year, establishment, mef, "
        "administrative_number, version) SELECT i, i, 2025, jsonb_build_object('uai', 'U' || n), $2::jsonb, "
        "i::text, 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS t(i, n)",
        ids, json.dumps({"code": "2473121332"}))


async def test_a_seed_does_not_walk_the_schoolings_already_issued(pool: asyncpg.Pool) -> None:
    ids = sorted(uuid.uuid4() for _ in range(SCHOOLINGS))
    async with pool.acquire() as conn:
        await _a_school_each(conn, ids)
        await conn.execute("INSERT INTO pricing SELECT i, true, 1500, 210000 FROM unnest($1::uuid[]) i", ids)
        # Every DA queued and the statistics taken, then the lowest nine tenths issued (their queue rows gone) as
        # the seeds drain them, faster than autovacuum follows: the planner still sees a full queue.
        await conn.execute("INSERT INTO render_queue (schooling_id, kind) "
                           "SELECT i, 'attribution' FROM unnest($1::uuid[]) i", ids)
        await conn.execute("ANALYZE")
        await conn.execute("DELETE FROM render_queue WHERE schooling_id = ANY($1)", ids[:SCHOOLINGS * 9 // 10])
        async with conn.transaction():
            assert await conn.fetchval("SELECT x.uai FROM (" + SEED_SQL + ") x", []) \
                == f"U{SCHOOLINGS * 9 // 10 + 1}"  # the lowest queued id's school, as before
        blocks = await _seed_blocks(conn)
    # In schooling-id order the merge join read the 18,000 issued schoolings' and barèmes' rows (≈ 750 blocks); in
    # a nested loop the seed steps over the queue index's dead entries until autovacuum clears them (≈ 120 blocks).
    assert blocks < 300, f"the seed read {blocks} blocks"


async def test_a_seed_does_not_walk_every_da_waiting_for_its_bareme(pool: asyncpg.Pool) -> None:
    """The DAs of schoolings whose barème was refused (priced false) stay queued, the oldest of the queue: a seed in
    queue order stepped over all of them; by id they are scattered among the ready ones."""
    ids = [uuid.uuid4() for _ in range(SCHOOLINGS)]
    waiting, ready = ids[:SCHOOLINGS // 5], ids[SCHOOLINGS // 5:]
    async with pool.acquire() as conn:
        await _a_school_each(conn, ids)
        await conn.execute("INSERT INTO pricing SELECT i, false, NULL, NULL FROM unnest($1::uuid[]) i", waiting)
        await conn.execute("INSERT INTO pricing SELECT i, true, 1500, 210000 FROM unnest($1::uuid[]) i", ready)
        await conn.execute("INSERT INTO render_queue (schooling_id, kind, queued_at) "
                           "SELECT i, 'attribution', now() - interval '1 day' FROM unnest($1::uuid[]) i", waiting)
        await conn.execute("INSERT INTO render_queue (schooling_id, kind) "
                           "SELECT i, 'attribution' FROM unnest($1::uuid[]) i", ready)
        await conn.execute("ANALYZE")
        blocks = await _seed_blocks(conn)
    # In queue order the seed read the 4,000 waiting rows' schoolings and barèmes first (≈ 16,000 blocks); ≈ 13 now.
    assert blocks < 300, f"the seed read {blocks} blocks"
