"""SQL of the hidden schoolings (SchoolingHiddenChanged): the newest version held of each schooling's hiding."""

from __future__ import annotations

from uuid import UUID

from aplypro_contracts import SchoolingHiddenChanged
from aplypro_servicekit.db import Connection, json_columns, json_rows

from aplypro_calculator.adapters.postgres import PoolKey


async def held_versions(conn: Connection, schooling_ids: list[UUID]) -> dict[UUID, int]:
    """The hiding version held of these schoolings, locked until the caller's commit."""
    rows = await conn.fetch("SELECT schooling_id, version FROM hidden_schoolings WHERE schooling_id = ANY($1::uuid[]) "
                            "ORDER BY schooling_id FOR UPDATE", schooling_ids)
    return {r["schooling_id"]: int(r["version"]) for r in rows}


async def store_hidden(conn: Connection, events: list[SchoolingHiddenChanged]) -> None:
    """One event per schooling, each newer than the one held (the caller checked under the lock)."""
    await conn.execute(
        "INSERT INTO hidden_schoolings (schooling_id, student_id, hidden, version) "
        f"SELECT {json_columns(['uuid', 'uuid', 'bool', 'int'])} FROM jsonb_array_elements($1::jsonb) AS r "
        "ON CONFLICT (schooling_id) DO UPDATE SET hidden = EXCLUDED.hidden, version = EXCLUDED.version "
        "WHERE hidden_schoolings.version < EXCLUDED.version",
        json_rows((e.schooling_id, e.student_id, e.hidden, e.version) for e in events),
    )


async def pools_of(conn: Connection, schooling_ids: list[UUID]) -> list[PoolKey]:
    """The pools of these schoolings the calculator knows (one each)."""
    rows = await conn.fetch("SELECT DISTINCT student_id, mef_code, school_year FROM schoolings "
                            "WHERE schooling_id = ANY($1::uuid[])", schooling_ids)
    return [(r["student_id"], r["mef_code"], r["school_year"]) for r in rows]


async def requests_handed_over(conn: Connection, schooling_ids: list[UUID]) -> int:
    """Latest requests of these schoolings' PFMPs already handed to the gateway (ready, sent, integrated): past
    the calculator's gate; the gateway holds back a ready one of a hidden schooling."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM pfmps p JOIN LATERAL (SELECT state FROM payment_requests WHERE pfmp_id = p.pfmp_id "
        "ORDER BY seq DESC LIMIT 1) r ON true WHERE p.schooling_id = ANY($1::uuid[]) "
        "AND r.state IN ('ready', 'sent', 'integrated')", schooling_ids))
