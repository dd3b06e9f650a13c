"""Re-publishes the schoolings of establishments whose directory row changed (issue 13): every schooling event
carries an Establishment snapshot, which readers keep per schooling (documents prints it on the DAs it issues,
the asp-gateway sends its city code for students living abroad). Each schooling goes out as SchoolingChanged
(`changed`: establishment) with its full state and next version, so readers apply it as any schooling change.

A national directory (2,900 establishments, 650,000 schoolings) is not one transaction: `load_establishments`
queues the changed establishments with the directory, then each `republish_chunk` commits a bounded chunk
alone. Which schoolings: those of the last `years` school years (the current one included, and later ones),
the ones documents may still issue a DA for and the asp-gateway may still pay; older ones' documents and
payments are done, and an issued document never changes anyway."""

from __future__ import annotations

import uuid
from datetime import date

import structlog
from aplypro_contracts import SchoolingChanged
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_students.adapters import postgres, postgres_republish
from aplypro_students.domain.reconcile import current_school_year
from aplypro_students.service_layer.events import schooling_state

log = structlog.get_logger(__name__)


def first_school_year(today: date, years: int) -> int:
    """The oldest school year still re-published: the current one and the `years - 1` before it."""
    return current_school_year(today) - (years - 1)


async def pending(conn: Connection, first_year: int) -> int:
    return await postgres_republish.pending_count(conn, first_year)


async def republish_chunk(conn: Connection, topic: str, first_year: int, *, limit: int,
                          correlation_id: uuid.UUID) -> int:
    """Re-publish up to `limit` queued schoolings, in the caller's transaction; 0 when none is left."""
    ids = await postgres_republish.take_chunk(conn, first_year, limit)
    if not ids:
        return 0
    await postgres_republish.next_versions(conn, ids)
    views = await postgres.schooling_views(conn, ids)
    await write_outbox(conn, [event_row(topic, view["student_id"], SchoolingChanged(
        **schooling_state(view, correlation_id), changed=("establishment",))) for view in views])
    log.info("schoolings_republished", count=len(views))
    return len(views)
