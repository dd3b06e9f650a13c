"""Loads reference data: the establishments directory, the eligible MEF list of a school year, the calendar,
the commune exception table."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_students.adapters import postgres, postgres_republish
from aplypro_students.adapters.postgres_calendar import upsert_summers
from aplypro_students.adapters.postgres_communes import replace_commune_exceptions
from aplypro_students.adapters.postgres_reference import establishments_of, upsert_establishments, upsert_mefs
from aplypro_students.domain.calendar import Summer
from aplypro_students.domain.communes import CommuneExceptions, CommuneKind
from aplypro_students.domain.reference import Establishment, Mef, snapshot_changed
from aplypro_students.service_layer import events

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EstablishmentsLoaded:
    loaded: int
    changed: int  # stored ones whose schooling events' snapshot changed: their schoolings are queued


async def load_establishments(conn: Connection, establishments: list[Establishment], *,
                              topic: str | None = None) -> EstablishmentsLoaded:
    """Store the directory and, given the students events topic, publish each establishment as
    EstablishmentRegistered (keyed by UAI, through the outbox, in the caller's transaction): pfmp's statistics
    group by its ministry and sector. Without a topic (tests and benches with no reader) nothing is published.

    An establishment whose row changes what schooling events carry of it is queued, in the same transaction:
    `republish_schoolings.republish_chunk` then sends its schoolings again with the new snapshot."""
    stored = await establishments_of(conn, [e.uai for e in establishments])
    changed = [e.uai for e in establishments if snapshot_changed(stored.get(e.uai), e)]
    await upsert_establishments(conn, establishments)
    await postgres_republish.queue(conn, changed)
    load_id = uuid.uuid4()
    if topic is not None:
        await write_outbox(conn, [event_row(topic, e.uai, events.establishment_registered(e, load_id))
                                  for e in establishments])
    await postgres.record_import(conn, load_id, "establishments", None, None, None,
                                 {"establishments": len(establishments), "changed": len(changed)}, [])
    log.info("establishments_loaded", count=len(establishments), changed=len(changed))
    return EstablishmentsLoaded(len(establishments), len(changed))


async def load_mefs(conn: Connection, school_year: int, mefs: list[Mef]) -> int:
    await upsert_mefs(conn, school_year, mefs)
    await postgres.record_import(conn, uuid.uuid4(), "mefs", None, school_year, None, {"mefs": len(mefs)}, [])
    log.info("mefs_loaded", school_year=school_year, count=len(mefs))
    return len(mefs)


async def load_calendar(conn: Connection, summers: Mapping[tuple[str, int], Summer]) -> dict[str, int]:
    """The academic calendar (§6.3): the summers by (academy code, school year they close)."""
    await upsert_summers(conn, summers)
    counts = {"academies": len({code for code, _ in summers}), "school_years": len(summers)}
    await postgres.record_import(conn, uuid.uuid4(), "calendar", None, None, None, counts, [])
    log.info("calendar_loaded", **counts)
    return counts


async def load_commune_exceptions(conn: Connection, exceptions: CommuneExceptions) -> dict[str, int]:
    """The commune exception table (imports.md §4), replaced whole: the file is the table. Students already
    stored with an old code take the new one at their next import."""
    await replace_commune_exceptions(conn, exceptions)
    counts = {kind.value: sum(1 for k, _ in exceptions.table if k is kind) for kind in CommuneKind}
    await postgres.record_import(conn, uuid.uuid4(), "commune_exceptions", None, None, None, counts, [])
    log.info("commune_exceptions_loaded", **counts)
    return counts
