"""SQL of the INE status (found / not found by the student API): one guarded update per student."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from aplypro_servicekit.db import Connection


async def set_ine_status(conn: Connection, ines: Sequence[str], status: str,
                         by: str) -> tuple[dict[str, tuple[UUID, int]], set[str]]:
    """Sets `status` on the students of these INEs whose status differs; returns, by INE, the student id and
    new version of those changed, and the INEs already at `status` (unchanged). Unknown INEs are in neither."""
    changed = await conn.fetch(
        "UPDATE students SET ine_status = $2, ine_status_version = ine_status_version + 1, ine_status_by = $3, "
        "ine_status_at = now() WHERE ine = ANY($1::text[]) AND ine_status <> $2 "
        "RETURNING ine, student_id, ine_status_version", list(ines), status, by)
    same = await conn.fetch("SELECT ine FROM students WHERE ine = ANY($1::text[]) AND ine_status = $2",
                            list(ines), status)
    done = {r["ine"]: (r["student_id"], r["ine_status_version"]) for r in changed}
    return done, {r["ine"] for r in same} - set(done)
