"""Loads reference data: the establishments directory, the eligible MEF list of a school year, the calendar."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import structlog
from aplypro_servicekit.db import Connection

from aplypro_students.adapters import postgres
from aplypro_students.adapters.postgres_calendar import upsert_summers
from aplypro_students.adapters.postgres_reference import upsert_establishments, upsert_mefs
from aplypro_students.domain.calendar import Summer
from aplypro_students.domain.reference import Establishment, Mef

log = structlog.get_logger(__name__)


async def load_establishments(conn: Connection, establishments: list[Establishment]) -> int:
    # TODO(events): a changed establishment should re-emit its open schoolings (name, head, address).
    await upsert_establishments(conn, establishments)
    await postgres.record_import(conn, uuid.uuid4(), "establishments", None, None, None,
                                 {"establishments": len(establishments)}, [])
    log.info("establishments_loaded", count=len(establishments))
    return len(establishments)


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
