"""Operators add, remove and list exclusions (imports.md §6.2); imports skip the records they cover (§5.1).

Each real change is published as ExclusionChanged (keyed by UAI, through the outbox, in the caller's
transaction): the calculator applies it to its list and blocks the payment of what was imported before, so an
operator sets an exclusion once, here."""

from __future__ import annotations

from typing import Any

import structlog
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_students.adapters.postgres_exclusions import add_exclusion, exclusions_of, remove_exclusion
from aplypro_students.adapters.postgres_reference import known_establishments
from aplypro_students.domain.exclusions import Exclusion, check_addition, check_shape, excluded
from aplypro_students.domain.model import SchoolingRecord
from aplypro_students.domain.report import RowError
from aplypro_students.service_layer import events
from aplypro_students.service_layer.providers import UnknownEstablishment

log = structlog.get_logger(__name__)


async def add(conn: Connection, row: Exclusion, *, by: str, topic: str | None = None) -> dict[str, Any]:
    """Run inside the caller's transaction. The table lock keeps a concurrent addition from slipping a MEF row
    under a whole-establishment one. Given the students events topic, a real addition is published."""
    if not by.strip():
        raise ValueError("who adds the exclusion is required (--user)")
    check_shape(row)
    if not await known_establishments(conn, [row.uai]):
        raise UnknownEstablishment(f"{row.uai} is not in the reference data")
    await conn.execute("LOCK TABLE exclusions IN SHARE ROW EXCLUSIVE MODE")
    check_addition(await exclusions_of(conn, row.uai), row)
    added = await add_exclusion(conn, row, by=by.strip())
    if added:
        await _publish(conn, topic, row, excluded=True)
    log.info("exclusion_added", uai=row.uai, mef_code=row.mef_code, school_year=row.school_year, added=added)
    return {"added": added, **_view(row)}


async def remove(conn: Connection, row: Exclusion, *, topic: str | None = None) -> dict[str, Any]:
    check_shape(row)
    removed = await remove_exclusion(conn, row)
    if removed:
        await _publish(conn, topic, row, excluded=False)
    log.info("exclusion_removed", uai=row.uai, mef_code=row.mef_code, school_year=row.school_year, removed=removed)
    return {"removed": removed, **_view(row)}


async def _publish(conn: Connection, topic: str | None, row: Exclusion, *, excluded: bool) -> None:
    if topic is None:  # tests with no reader
        return
    version = await conn.fetchval("SELECT nextval('exclusion_change_seq')")
    await write_outbox(conn, [event_row(topic, row.uai, events.exclusion_changed(
        row.uai, row.mef_code, row.school_year, excluded=excluded, version=version))])


async def listing(conn: Connection) -> list[dict[str, Any]]:
    return [_view(row) for row in await exclusions_of(conn)]


def _view(row: Exclusion) -> dict[str, Any]:
    return {"uai": row.uai, "mef_code": row.mef_code, "school_year": row.school_year}


async def split_excluded(conn: Connection, uai: str, records: list[SchoolingRecord],
                         ) -> tuple[list[SchoolingRecord], list[SchoolingRecord]]:
    """The records no exclusion covers, and the ones an exclusion covers (skipped: never an error, the row is
    fine and the scheme leaves it out)."""
    rows = await exclusions_of(conn, uai)
    if not rows:
        return records, []
    out = [r for r in records if excluded(rows, uai, r.mef_code, r.school_year)]
    return [r for r in records if not excluded(rows, uai, r.mef_code, r.school_year)], out


def excluded_lines(records: list[SchoolingRecord]) -> list[RowError]:
    """One `excluded` report line per skipped record (its line, never its values)."""
    return [RowError(r.line, "code_mef", "excluded", f"establishment or MEF excluded from the scheme in "
                                                     f"{r.school_year}") for r in records]
