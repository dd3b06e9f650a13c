"""SQL of student merges (StudentsMerged): what the calculator keeps by student id moves to the survivor."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters.postgres import PoolKey

# Every table the calculator keys by student (payment requests hang on PFMPs; student_addresses is by student
# alone and handled apart: the survivor's fingerprint stays).
_BY_STUDENT = ("schoolings", "pfmps", "decisions", "schooling_reports", "hidden_schoolings")


async def record_merges(conn: Connection, merges: list[tuple[UUID, UUID, int]]) -> list[tuple[UUID, UUID]]:
    """(merged, survivor, version): the merges not held yet (a replay returns nothing)."""
    rows = await conn.fetch(
        "INSERT INTO merged_students (merged_id, survivor_id, version) "
        "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[]) ON CONFLICT (merged_id) DO NOTHING "
        "RETURNING merged_id, survivor_id",
        [m for m, _, _ in merges], [s for _, s, _ in merges], [v for _, _, v in merges])
    return [(r["merged_id"], r["survivor_id"]) for r in rows]


async def repoint(conn: Connection, merged: UUID, survivor: UUID) -> None:
    for table in _BY_STUDENT:
        await conn.execute(f"UPDATE {table} SET student_id = $2 WHERE student_id = $1", merged, survivor)
    await conn.execute("UPDATE student_addresses SET student_id = $2 WHERE student_id = $1 AND NOT EXISTS "
                       "(SELECT 1 FROM student_addresses WHERE student_id = $2)", merged, survivor)
    await conn.execute("DELETE FROM student_addresses WHERE student_id = $1", merged)
    # its pools are the survivor's now: recomputed there, and reported there if over the cap
    await conn.execute("DELETE FROM over_cap_pools WHERE student_id = $1", merged)
    # an earlier merge into the merged student: its students now point to the new survivor
    await conn.execute("UPDATE merged_students SET survivor_id = $2 WHERE survivor_id = $1", merged, survivor)


async def survivors(conn: Connection, student_ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """Merged student → survivor, for those of these ids that were merged."""
    ids = list(set(student_ids))
    if not ids:
        return {}
    rows = await conn.fetch("SELECT merged_id, survivor_id FROM merged_students WHERE merged_id = ANY($1::uuid[])",
                            ids)
    return {r["merged_id"]: r["survivor_id"] for r in rows}


async def pools_of_student(conn: Connection, student_id: UUID) -> list[PoolKey]:
    rows = await conn.fetch("SELECT DISTINCT student_id, mef_code, school_year FROM schoolings WHERE student_id = $1",
                            student_id)
    return [(r["student_id"], r["mef_code"], r["school_year"]) for r in rows]
