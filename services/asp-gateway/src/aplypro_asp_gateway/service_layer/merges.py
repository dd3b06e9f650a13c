"""Following student merges (StudentsMerged, imports.md §5.8): schoolings, RIBs, DAs, payment requests and the
ASP individual id move from the merged student to the survivor.

The individual id: if only the merged student had one, the survivor's next records carry it (no second
individual is created at the ASP); if both had one, the survivor's is kept and the pair is recorded in
`asp_individual_conflicts` (a gauge and `status` show it) for an operator to settle with the ASP. Requests
already sent keep what they were sent with (file bytes, ASP ids), and a modification of a PFMP the ASP holds
still names the individual it holds it under. An event still carrying the merged id, read after the merge
(another topic, a redelivery), lands on the survivor (`repointed`), except the student's own facts (identity,
INE status, RIBs): those versions belong to the merged student's record, never to the survivor's.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import structlog
from aplypro_contracts import STUDENT_STATE_EVENTS, Envelope, StudentsMerged
from aplypro_servicekit.consumer import EventHandler
from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters import merges_repo
from aplypro_asp_gateway.adapters import projection_repo as repo

log = structlog.get_logger(__name__)

# The merged student's own record, never re-pointed: their versions count the merged student's identity and RIBs,
# not the survivor's (the students service re-publishes a moved RIB at the survivor's next version).
_OWN_FACTS = frozenset({*STUDENT_STATE_EVENTS, "StudentIneStatusChanged", "RibRecorded"})


async def on_students_merged(conn: Connection, event: StudentsMerged) -> None:
    # Both clocks first: a request being inserted for the merged student commits before the move reads it.
    await repo.tick_students(conn, sorted({event.merged_id, event.survivor_id}))
    if event.merged_id == event.survivor_id or not await merges_repo.record_merge(
            conn, event.merged_id, event.survivor_id):
        log.info("student_merge_ignored", survivor_id=str(event.survivor_id), merged_id=str(event.merged_id))
        return
    ids = await merges_repo.repoint(conn, event.merged_id, event.survivor_id)
    if ids.conflict:
        # ids only: the two ASP ids are in asp_individual_conflicts for the operator
        log.warning("asp_individual_conflict", code="asp_individual_conflict",
                    survivor_id=str(event.survivor_id), merged_id=str(event.merged_id))
    log.info("students_merged", survivor_id=str(event.survivor_id), merged_id=str(event.merged_id),
             asp_individual="survivor" if ids.survivor_individual else "merged" if ids.merged_individual else None)


def _student_of(event: Envelope) -> Any:
    return None if event.event_type in _OWN_FACTS else getattr(event, "student_id", None)


async def repointed(conn: Connection, events: Sequence[Envelope]) -> list[Envelope]:
    """The events with a merged student's id (read after its StudentsMerged) as the survivor's."""
    survivors = await merges_repo.survivors(conn, [s for e in events if (s := _student_of(e)) is not None])
    if not survivors:
        return list(events)
    return [e.model_copy(update={"student_id": survivors[s]}) if (s := _student_of(e)) in survivors else e
            for e in events]


async def survivors_of(conn: Connection, events: Sequence[Envelope]) -> list[Any]:
    """The survivors these events would land on (their clocks are taken with the others', in one sorted order)."""
    found = await merges_repo.survivors(conn, [s for e in events if (s := _student_of(e)) is not None])
    return list(found.values())


def following_merges(handler: EventHandler) -> EventHandler:
    """The per-event handler (the consumer's fallback path, one event at a time) reading a merged student's event
    as the survivor's; the batch path re-points each stretch between merges once (projection_batch)."""

    @functools.wraps(handler)
    async def handle(conn: Connection, event: Any) -> None:
        if (student := _student_of(event)) is not None:
            await repo.tick_students(conn, [student])  # a merge committing meanwhile is seen by the lookup
        [event] = await repointed(conn, [event])
        await handler(conn, event)

    return handle
