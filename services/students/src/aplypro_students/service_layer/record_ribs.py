"""Records bank details: archive the active RIB of that student and establishment, store, emit RibRecorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_students.adapters import postgres, postgres_ribs
from aplypro_students.adapters.postgres_reference import known_establishments
from aplypro_students.domain.report import InvalidFile, RowError
from aplypro_students.domain.rib import BankDetails, OwnerType
from aplypro_students.service_layer import events

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RecordRib:
    """Command: bank details entered for a student of an establishment (`line` locates it in a file)."""

    line: int
    ine: str
    uai: str
    details: BankDetails


@dataclass(frozen=True)
class RibSummary:
    recorded: int
    unchanged: int
    archived: int

    def as_dict(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "unchanged": self.unchanged, "archived": self.archived}


async def _check(conn: Connection, entries: list[RecordRib]) -> dict[str, uuid.UUID]:
    """Every row must name a known student enrolled in a known establishment, else nothing is recorded."""
    ids = await postgres_ribs.student_ids(conn, sorted({e.ine for e in entries}))
    schools = await known_establishments(conn, sorted({e.uai for e in entries}))
    enrolled = await postgres_ribs.enrolments(conn, list(ids.values()))
    errors: list[RowError] = []
    for e in entries:
        if e.uai not in schools:
            errors.append(RowError(e.line, "uai", "uai.unknown", "establishment not in the reference data"))
        elif e.ine not in ids:
            errors.append(RowError(e.line, "ine", "ine.unknown", "no student with this INE"))
        elif (ids[e.ine], e.uai) not in enrolled:
            errors.append(RowError(e.line, "ine", "ine.not_enrolled", "no schooling in this establishment"))
    if errors:
        raise InvalidFile(errors)
    return ids


def _same(row: Any, details: BankDetails) -> bool:
    return (OwnerType(row["owner_type"]), row["holder_name"], row["iban"], row["bic"]) == (
        details.owner_type, details.holder_name, details.iban, details.bic)


async def record_ribs(conn: Connection, entries: list[RecordRib], *, topic: str,
                      events_topic: str | None = None, recorded_by: str | None = None) -> RibSummary:
    """Run inside the caller's transaction; re-recording the active RIB unchanged is a no-op.

    With `events_topic`, each RibRecorded (restricted topic) comes with its bank-data-free RibOnFile on the
    students topic, for pfmp's validation guard (issue 10). `recorded_by`: the web user who entered them
    (audit trail, issue 14); None for a file.
    """
    ids = await _check(conn, entries)
    import_id = uuid.uuid4()
    rows, unchanged, archived, recorded = [], 0, 0, 0
    for entry in entries:
        student_id = ids[entry.ine]
        active = await postgres_ribs.active_rib(conn, student_id, entry.uai)
        if active is not None and _same(active, entry.details):
            unchanged += 1
            continue
        if active is not None:
            await postgres_ribs.archive_rib(conn, active["rib_id"])
            archived += 1
        rib_id = uuid.uuid4()
        version = await postgres_ribs.insert_rib(conn, rib_id, student_id, entry.uai, entry.details,
                                                 recorded_by=recorded_by)
        event = events.rib_recorded(rib_id, student_id, entry.uai, entry.details, import_id, version)
        rows.append(event_row(topic, student_id, event))  # keyed by student_id: never the IBAN or the INE
        recorded += 1
        if events_topic is not None:
            rows.append(event_row(events_topic, student_id, events.rib_on_file(event)))
    await write_outbox(conn, rows)
    summary = RibSummary(recorded, unchanged, archived)  # RIBs, not events (RibOnFile doubles them)
    await postgres.record_import(conn, import_id, "ribs_web" if recorded_by else "ribs_csv", None, None, None, summary.as_dict(), [])
    log.info("ribs_recorded", import_id=str(import_id), **summary.as_dict())
    return summary
