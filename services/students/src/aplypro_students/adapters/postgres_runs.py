"""SQL of import-all runs (0004): one open run per source and year, the establishments it finished."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection


async def try_lock_run(conn: Connection, source: str, school_year: int) -> bool:
    """A session lock held by the running import-all; a crash releases it with its connection."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext('students:import-all:' || $1 || ':' || $2))",
                                    source, str(school_year)))


async def unlock_run(conn: Connection, source: str, school_year: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock(hashtext('students:import-all:' || $1 || ':' || $2))",
                       source, str(school_year))


async def open_run(conn: Connection, source: str, school_year: int, resume_hours: float,
                   ) -> tuple[UUID, set[str]]:
    """The open run of this source and year if it started less than `resume_hours` ago (with the UAIs it
    finished), else a new one; an older open run is abandoned."""
    await conn.execute(
        "UPDATE import_runs SET status = 'abandoned', finished_at = now() WHERE source = $1 AND school_year = $2 "
        "AND status = 'open' AND started_at < now() - make_interval(secs => $3)", source, school_year,
        resume_hours * 3600)
    run_id: UUID | None = await conn.fetchval(
        "SELECT run_id FROM import_runs WHERE source = $1 AND school_year = $2 AND status = 'open'", source, school_year)
    if run_id is None:
        run_id = uuid.uuid4()
        await conn.execute("INSERT INTO import_runs (run_id, source, school_year, status) VALUES ($1, $2, $3, 'open')",
                           run_id, source, school_year)
        return run_id, set()
    # an establishment a crashed invocation was importing is imported again (its commit, if any, re-applies idly)
    await conn.execute("UPDATE import_run_establishments SET outcome = 'pending' WHERE run_id = $1 "
                       "AND outcome = 'running'", run_id)
    rows = await conn.fetch("SELECT uai FROM import_run_establishments WHERE run_id = $1 "
                            "AND outcome IN ('done', 'skipped')", run_id)
    return run_id, {r["uai"] for r in rows}


async def queue_establishments(conn: Connection, run_id: UUID, uais: list[str]) -> None:
    """The establishments this invocation must import, `pending`; a failed one is retried."""
    await conn.execute(
        "INSERT INTO import_run_establishments (run_id, uai, outcome, report) "
        "SELECT $1, u, 'pending', '{}'::jsonb FROM unnest($2::text[]) AS u "
        "ON CONFLICT (run_id, uai) DO UPDATE SET outcome = 'pending' WHERE import_run_establishments.outcome = 'failed'",
        run_id, uais)


async def claim_establishment(conn: Connection, run_id: UUID) -> str | None:
    """The next pending establishment of the run, now `running`: each is claimed by one worker (process or task)."""
    uai: str | None = await conn.fetchval(
        "UPDATE import_run_establishments SET outcome = 'running', finished_at = now() WHERE run_id = $1 AND uai = "
        "(SELECT uai FROM import_run_establishments WHERE run_id = $1 AND outcome = 'pending' ORDER BY uai LIMIT 1 "
        "FOR UPDATE SKIP LOCKED) RETURNING uai", run_id)
    return uai


async def record_outcome(conn: Connection, run_id: UUID, uai: str, outcome: str, report: dict[str, Any]) -> None:
    """A failed establishment is retried by the next run of the same night: its row is overwritten."""
    await conn.execute(
        "INSERT INTO import_run_establishments (run_id, uai, outcome, report) VALUES ($1, $2, $3, $4::jsonb) "
        "ON CONFLICT (run_id, uai) DO UPDATE SET outcome = EXCLUDED.outcome, report = EXCLUDED.report, "
        "finished_at = now()", run_id, uai, outcome, json.dumps(report))
    await conn.execute("UPDATE import_runs SET heartbeat_at = now() WHERE run_id = $1", run_id)


async def close_run(conn: Connection, run_id: UUID) -> bool:
    """Finished when every establishment is done or skipped; else (failed, or not imported: the run stopped)
    it stays open for a re-run. True when finished."""
    failed = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM import_run_establishments WHERE run_id = $1 "
                                 "AND outcome NOT IN ('done', 'skipped'))", run_id)
    await conn.execute("UPDATE import_runs SET status = $2, finished_at = CASE WHEN $2 = 'finished' THEN now() END, "
                       "heartbeat_at = now() WHERE run_id = $1", run_id, "open" if failed else "finished")
    return not failed
