"""SQL of a student merge (StudentsMerged): what pfmp holds under the merged student moves to the survivor."""

from __future__ import annotations

from uuid import UUID

from aplypro_servicekit.db import Connection


class MergeConflict(ValueError):
    """The merge cannot be followed as it is (the event is dead-lettered, to be replayed once fixed)."""

    code = "merge_overlapping_pfmps"


async def record_merge(conn: Connection, merged: UUID, survivor: UUID, version: int) -> bool:
    """False when this merge is held already (a replay)."""
    return bool(await conn.fetchval(
        "INSERT INTO student_merges (merged_id, survivor_id, version) VALUES ($1, $2, $3) "
        "ON CONFLICT (merged_id) DO NOTHING RETURNING true", merged, survivor, version))


async def repoint(conn: Connection, merged: UUID, survivor: UUID) -> int:
    """Moves schoolings, PFMPs, reports and RIB facts; returns the PFMPs moved. One person has one PFMP at a
    time (the pfmps_one_period trigger): two live PFMPs of the pair sharing a day refuse the merge here."""
    overlapping = await conn.fetchval(
        "SELECT count(*) FROM pfmps a JOIN pfmps b ON a.start_date <= b.end_date AND b.start_date <= a.end_date "
        "WHERE a.student_id = $1 AND b.student_id = $2 AND NOT a.deleted AND NOT b.deleted", merged, survivor)
    if overlapping:
        raise MergeConflict(f"{overlapping} PFMP(s) of the merged student overlap the survivor's: delete or edit "
                            "them, then replay the event")
    await conn.execute("UPDATE schoolings SET student_id = $2 WHERE student_id = $1", merged, survivor)
    moved = await conn.fetch("UPDATE pfmps SET student_id = $2 WHERE student_id = $1 RETURNING pfmp_id",
                             merged, survivor)
    await conn.execute("UPDATE schooling_reports SET student_id = $2 WHERE student_id = $1", merged, survivor)
    await conn.execute("INSERT INTO ribs_on_file (student_id, uai) SELECT $2, uai FROM ribs_on_file "
                       "WHERE student_id = $1 ON CONFLICT DO NOTHING", merged, survivor)
    await conn.execute("DELETE FROM ribs_on_file WHERE student_id = $1", merged)
    await conn.execute("UPDATE students SET merged_into = $2 WHERE student_id = $1 OR merged_into = $1",
                       merged, survivor)
    return len(moved)
