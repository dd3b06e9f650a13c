"""Benchmark: draining a national queue of DAs through the issuer's claim (`claim_ready`), on a real PostgreSQL.

    uv run python bench/documents_claims.py --schoolings 60000
    # against another commit's documents service (the rest of the workspace is this tree's):
    mkdir -p /tmp/base && git archive <commit> services/documents/src | tar -x -C /tmp/base
    PYTHONPATH=/tmp/base/services/documents/src uv run python bench/documents_claims.py --schoolings 60000

Every schooling priced, its DA queued (classes of 25: 500 schoolings an establishment, 20 MEFs), the statistics
taken on the full queue (as at a national start, before autovacuum follows the drain); then claims of `--limit`
DAs, each in its own transaction, delete what they claimed (as the issue does) until the queue is empty. Printed:
the drain's time, each quarter's mean claim time (a claim whose cost grows as the queue drains shows here), and the
time in the seed statements (fetchrow) and the class statements (fetch). The yardstick is the first quarter's
claim time: the last line's `growth` is the last quarter's over the first's.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aplypro_documents.adapters.postgres import claim_ready
from aplypro_local.embedded import EmbeddedPostgres
from aplypro_servicekit.db import create_pool, migrate


class _Timed:
    """The connection, timing the seed (fetchrow) and class (fetch) statements of claim_ready."""

    def __init__(self, conn: Any, spent: dict[str, float]) -> None:
        self.conn, self.spent = conn, spent

    async def fetchrow(self, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.conn.fetchrow(*args)
        finally:
            self.spent["seed"] += time.perf_counter() - started

    async def fetch(self, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.conn.fetch(*args)
        finally:
            self.spent["class"] += time.perf_counter() - started


async def _fill(pool: Any, schoolings: int) -> None:
    ids = [uuid.uuid4() for _ in range(schoolings)]
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO students (student_id, identity, version) "
                           "SELECT i, '{}'::jsonb, 1 FROM unnest($1::uuid[]) i", ids)
        await conn.execute(
            "INSERT INTO schoolings (schooling_id, student_id, school_year, establishment, mef, "
            "administrative_number, version) SELECT i, i, 2025, jsonb_build_object('uai', 'U' || (n / 500)), "
            "jsonb_build_object('code', 'M' || (n % 20)), i::text, 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS t(i, n)",
            ids)
        await conn.execute("INSERT INTO pricing SELECT i, true, 1500, 210000 FROM unnest($1::uuid[]) i", ids)
        await conn.execute("INSERT INTO render_queue (schooling_id, kind) "
                           "SELECT i, 'attribution' FROM unnest($1::uuid[]) i", ids)
        await conn.execute("ANALYZE")


async def main(schoolings: int, limit: int) -> None:
    server = EmbeddedPostgres.start(Path(tempfile.mkdtemp(prefix="claimspg-")))
    try:
        pool = await create_pool(server.url, "claims", size=2)
        await migrate(pool, "claims", ["aplypro_servicekit", "aplypro_documents"])
        await _fill(pool, schoolings)
        spent = {"seed": 0.0, "class": 0.0}
        claims: list[float] = []
        drained, started = 0, time.perf_counter()
        while True:
            async with pool.acquire() as conn, conn.transaction():
                claim_started = time.perf_counter()
                rows = await claim_ready(_Timed(conn, spent), limit)  # type: ignore[arg-type]  # a timed proxy
                claims.append(time.perf_counter() - claim_started)
                if not rows:
                    break
                await conn.execute("DELETE FROM render_queue WHERE kind = 'attribution' AND schooling_id = ANY($1)",
                                   [r["schooling_id"] for r in rows])
                drained += len(rows)
        seconds = time.perf_counter() - started
        await pool.close()
    finally:
        server.stop()
    quarter = max(1, len(claims) // 4)
    means = [1000 * sum(claims[i * quarter:(i + 1) * quarter]) / quarter for i in range(4)]
    print(f"drained {drained} DAs in {len(claims) - 1} claims of {limit}: {seconds:.1f} s; claim ms by quarter: "
          + " ".join(f"{m:.1f}" for m in means))
    print(f"documents_claims: schoolings={schoolings} seconds={seconds:.1f} seed_s={spent['seed']:.1f} "
          f"class_s={spent['class']:.1f} growth={means[3] / means[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schoolings", type=int, default=60_000)
    parser.add_argument("--limit", type=int, default=100, help="DAs a claim takes (the issuer's batch)")
    args = parser.parse_args()
    asyncio.run(main(args.schoolings, args.limit))
