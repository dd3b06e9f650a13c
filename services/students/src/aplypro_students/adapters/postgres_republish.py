"""SQL of the re-publication of schoolings whose establishment changed (migration 0012): the queue of
establishments, the schoolings still to re-publish, and their next version."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from aplypro_servicekit.db import Connection

# The schoolings readers still use: of the school years from `$first_year`, hidden ones included (a
# reintegration sends no state, so a reintegrated schooling must already hold the new snapshot), but not a
# merge's folded duplicate nor a retracted one, both hidden for good.
_STILL_USED = ("c.school_year >= $1 AND s.folded_into IS NULL AND s.retracted_at IS NULL "
               "AND (r.after IS NULL OR s.schooling_id > r.after)")


async def queue(conn: Connection, uais: Sequence[str]) -> None:
    """Their schoolings go out again from the first: a change while a re-publication is under way restarts it,
    since the schoolings already sent carry the older snapshot."""
    await conn.executemany(
        "INSERT INTO establishment_republish (uai) VALUES ($1) "
        "ON CONFLICT (uai) DO UPDATE SET after = NULL, queued_at = now()", [(uai,) for uai in uais])


async def pending_count(conn: Connection, first_year: int) -> int:
    """How many schoolings are still to re-publish (the progress bar's total)."""
    value = await conn.fetchval(
        "SELECT count(*) FROM establishment_republish r JOIN classes c ON c.uai = r.uai "
        "JOIN schoolings s ON s.class_id = c.class_id WHERE " + _STILL_USED, first_year)
    return int(value)


async def take_chunk(conn: Connection, first_year: int, limit: int) -> list[UUID]:
    """Up to `limit` schoolings to re-publish, locked, establishment by establishment in schooling_id order;
    moves each establishment's cursor past them, and unqueues an establishment once none is left."""
    taken: list[UUID] = []
    queued = await conn.fetch("SELECT uai FROM establishment_republish ORDER BY uai FOR UPDATE")
    for row in queued:
        ids = [r["schooling_id"] for r in await conn.fetch(
            "SELECT s.schooling_id FROM establishment_republish r JOIN classes c ON c.uai = r.uai "
            "JOIN schoolings s ON s.class_id = c.class_id WHERE " + _STILL_USED + " AND r.uai = $2 "
            "ORDER BY s.schooling_id LIMIT $3 FOR UPDATE OF s", first_year, row["uai"], limit - len(taken))]
        taken += ids
        if len(taken) < limit:
            await conn.execute("DELETE FROM establishment_republish WHERE uai = $1", row["uai"])
        else:
            await conn.execute("UPDATE establishment_republish SET after = $2 WHERE uai = $1", row["uai"], ids[-1])
            break
    return taken


async def next_versions(conn: Connection, schooling_ids: Sequence[UUID]) -> None:
    """A re-publication is a change of the schooling's state as events carry it: its next version."""
    await conn.execute("UPDATE schoolings SET version = version + 1 WHERE schooling_id = ANY($1::uuid[])",
                       list(schooling_ids))
