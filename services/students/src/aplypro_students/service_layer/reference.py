"""Loads reference data: the establishments directory and the eligible MEF list of a school year."""

from __future__ import annotations

import uuid

import structlog
from aplypro_servicekit.db import Connection

from aplypro_students.adapters import postgres
from aplypro_students.adapters.postgres_reference import upsert_establishments, upsert_mefs
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
