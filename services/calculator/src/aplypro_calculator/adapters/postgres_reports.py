"""SQL of the schooling reports (SchoolingExtended): the newest version held of each schooling's report."""

from __future__ import annotations

from uuid import UUID

from aplypro_contracts import SchoolingExtended
from aplypro_servicekit.db import Connection, json_columns, json_rows


async def held_versions(conn: Connection, schooling_ids: list[UUID]) -> dict[UUID, int]:
    """The report version held of these schoolings, locked until the caller's commit."""
    rows = await conn.fetch("SELECT schooling_id, version FROM schooling_reports WHERE schooling_id = ANY($1::uuid[]) "
                            "ORDER BY schooling_id FOR UPDATE", schooling_ids)
    return {r["schooling_id"]: int(r["version"]) for r in rows}


async def store_reports(conn: Connection, events: list[SchoolingExtended]) -> None:
    """One event per schooling, each newer than the one held (the caller checked under the lock)."""
    if not events:
        return
    await conn.execute(
        "INSERT INTO schooling_reports (schooling_id, student_id, extended_end_date, version) "
        f"SELECT {json_columns(['uuid', 'uuid', 'date', 'int'])} FROM jsonb_array_elements($1::jsonb) AS r "
        "ON CONFLICT (schooling_id) DO UPDATE SET extended_end_date = EXCLUDED.extended_end_date, "
        "version = EXCLUDED.version WHERE schooling_reports.version < EXCLUDED.version",
        json_rows((e.schooling_id, e.student_id, e.extended_end_date, e.version) for e in events),
    )
