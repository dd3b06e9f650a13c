"""Following student merges (StudentsMerged, imports.md §5.8): the yearly cap is per student, so after a merge
the survivor's and the merged student's PFMPs must share one cap, never be paid twice the cap.

Everything held under the merged id (schoolings, PFMPs, DAs, reports, hidings) moves to the survivor, and
every pool of the survivor is recomputed: amounts are reallocated under one cap, and open requests follow
(a request already handed over is past this: a paid excess is a recovery by rectification, calculation.md
§3.4). An event still carrying the merged id, read after the merge, is re-pointed on arrival
(`survivor_of`). Runs in the caller's transaction, inside the subscription keyed by student.
"""

from __future__ import annotations

import structlog
from aplypro_contracts import StudentsMerged
from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters import postgres_merges
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.service_layer.events import Cause

log = structlog.get_logger(__name__)


async def apply_merges(conn: Connection, events: list[StudentsMerged], causes: dict[PoolKey, Cause]) -> None:
    new = await postgres_merges.record_merges(conn, [(e.merged_id, e.survivor_id, e.version) for e in events])
    by_merged = {e.merged_id: e for e in events}
    for merged, survivor in new:
        await postgres_merges.repoint(conn, merged, survivor)
        for key in await postgres_merges.pools_of_student(conn, survivor):
            causes[key] = Cause.of(by_merged[merged])
        log.info("students_merged", survivor_id=str(survivor), merged_id=str(merged))
