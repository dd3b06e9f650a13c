"""The queue of SYGNE details to fetch (migration 0014): queued by import-all, drained by the detail lane."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aplypro_servicekit.db import Connection, json_columns, json_rows


@dataclass(frozen=True)
class QueuedDetail:
    ine: str
    uai: str
    school_year: int
    cells: dict[str, str]  # the list row the detail completes
    attempts: int


async def queue_details(conn: Connection, school_year: int, uai: str, cells_by_ine: dict[str, dict[str, str]]) -> int:
    """Queues the students of `cells_by_ine` that exist (a refused row imported no one); returns how many rows
    were added. A student already queued gets the newer cells (it may have moved again), not a second row."""
    if not cells_by_ine:
        return 0
    # A row a lane holds right now is left alone (never waited for: the lane holds it while it waits for this
    # import's student locks): the lane applies it, or finds it overtaken by this import and gives it up.
    held = await _held_by_a_lane(conn, sorted(cells_by_ine))
    rows = json_rows([ine, cells] for ine, cells in sorted(cells_by_ine.items()) if ine not in held)
    return int(await conn.fetchval(
        f"WITH wanted AS (SELECT {json_columns(('text', 'jsonb'))} FROM jsonb_array_elements($1::jsonb) AS r), "
        "upserted AS ("
        " INSERT INTO sygne_detail_queue (ine, uai, school_year, cells)"
        " SELECT w.c0, $2, $3, w.c1 FROM wanted w (c0, c1) JOIN students s ON s.ine = w.c0"
        # newer cells make a given-up or waiting row due again, from its first attempt
        " ON CONFLICT (ine) DO UPDATE SET uai = EXCLUDED.uai, school_year = EXCLUDED.school_year,"
        "  cells = EXCLUDED.cells, attempts = 0, not_before = now(), last_error = NULL"
        " RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted) FROM upserted", rows, uai, school_year))


async def _held_by_a_lane(conn: Connection, ines: Sequence[str]) -> set[str]:
    """The queued rows among these that another transaction holds locked; the others are now locked by ours."""
    free = await conn.fetch("SELECT ine FROM sygne_detail_queue WHERE ine = ANY($1::text[]) FOR UPDATE SKIP LOCKED",
                            list(ines))
    queued = await conn.fetch("SELECT ine FROM sygne_detail_queue WHERE ine = ANY($1::text[])", list(ines))
    return {r["ine"] for r in queued} - {r["ine"] for r in free}


async def claim_due(conn: Connection, limit: int, max_attempts: int) -> list[QueuedDetail]:
    """Due rows, locked until the caller's transaction ends; rows another lane holds are skipped."""
    rows = await conn.fetch(
        "SELECT ine, uai, school_year, cells, attempts FROM sygne_detail_queue "
        "WHERE not_before <= now() AND attempts < $2 ORDER BY not_before, ine LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit, max_attempts)
    return [QueuedDetail(r["ine"], r["uai"], r["school_year"], _cells(r["cells"]), r["attempts"]) for r in rows]


async def delete_done(conn: Connection, ines: Sequence[str]) -> None:
    """Settles these rows; one a lane holds is left to it (never waited for), and the lane settles it itself."""
    if ines:
        await conn.execute("DELETE FROM sygne_detail_queue WHERE ine IN (SELECT ine FROM sygne_detail_queue "
                           "WHERE ine = ANY($1::text[]) FOR UPDATE SKIP LOCKED)", list(ines))


async def retry_later(conn: Connection, failures: Sequence[tuple[str, float, str]]) -> None:
    """(ine, delay in seconds, reason code) each: one attempt more, due again after the delay."""
    if failures:
        await conn.execute(
            f"UPDATE sygne_detail_queue q SET attempts = q.attempts + 1, last_error = f.c2,"
            f" not_before = now() + make_interval(secs => f.c1) "
            f"FROM (SELECT {json_columns(('text', 'float8', 'text'))} FROM jsonb_array_elements($1::jsonb) AS r)"
            f" f (c0, c1, c2) WHERE q.ine = f.c0", json_rows(failures))


async def give_up(conn: Connection, ines: Sequence[str], reason: str, max_attempts: int) -> None:
    """Rows not to try again on their own (kept, shown as given up): an operator's `refresh-student` settles them."""
    if ines:
        await conn.execute("UPDATE sygne_detail_queue SET attempts = greatest(attempts, $3), last_error = $2 "
                           "WHERE ine = ANY($1::text[])", list(ines), reason, max_attempts)


async def queue_depth(conn: Connection, max_attempts: int) -> dict[str, Any]:
    """Rows waiting, rows past their attempts (given up: an operator's to look at), the oldest row's age."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE attempts < $1) AS waiting, count(*) FILTER (WHERE attempts >= $1) AS given_up,"
        " coalesce(extract(epoch FROM now() - min(queued_at)), 0)::float8 AS oldest_s FROM sygne_detail_queue",
        max_attempts)
    assert row is not None  # an aggregate always answers one row
    return {"details_queued": int(row["waiting"]), "details_given_up": int(row["given_up"]),
            "details_oldest_s": round(float(row["oldest_s"]), 1)}


def _cells(value: Any) -> dict[str, str]:
    return dict(json.loads(value) if isinstance(value, str) else value)
