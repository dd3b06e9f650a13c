"""Records bank details: archive the active RIB of that student and establishment (refused while it is frozen on a
payment in progress: `unarchivable_rib`), store, emit RibRecorded, RibArchived and RibStatusChanged."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_students.adapters import postgres, postgres_rib_payments, postgres_ribs
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


async def _refuse_unarchivable(conn: Connection, entries: list[RecordRib], ids: dict[str, uuid.UUID],
                               active: dict[tuple[uuid.UUID, str], Any], to_archive: list[uuid.UUID]) -> None:
    """A RIB frozen on a payment request sent to the ASP and not yet paid or finally failed stays current
    (imports.md §8): every line that would replace one is refused, and so is the whole file."""
    busy = await postgres_rib_payments.ribs_in_payment(conn, to_archive) if to_archive else set()
    errors = [RowError(e.line, "iban", "unarchivable_rib",
                       "the current RIB is used by a payment in progress: enter the new one once it is paid or failed")
              for e in entries if (row := active.get((ids[e.ine], e.uai))) is not None and row["rib_id"] in busy
              and _details(row) != e.details]
    if errors:
        raise InvalidFile(errors)


def _details(row: Any) -> BankDetails:
    return BankDetails(OwnerType(row["owner_type"]), row["holder_name"], row["iban"], row["bic"])


async def record_ribs(conn: Connection, entries: list[RecordRib], *, topic: str,
                      events_topic: str | None = None, recorded_by: str | None = None) -> RibSummary:
    """Run inside the caller's transaction; re-recording the active RIB unchanged is a no-op.

    Each RIB archived (the pair's active one replaced, or a row the same file names again) gets its RibArchived
    (restricted topic, ids only). With `events_topic`, each RibRecorded comes with its bank-data-free RibOnFile
    on the students topic (kept for readers not upgraded), and each pair whose current RIB changed with one
    RibStatusChanged (issue 13). Refused (InvalidFile, `unarchivable_rib`, nothing written) when a RIB to archive
    is frozen on a payment request in progress. `recorded_by`: the web user who entered them
    (audit trail, issue 14); None for a file.
    """
    ids = await _check(conn, entries)
    import_id = uuid.uuid4()
    students = sorted(set(ids.values()))
    active = await postgres_ribs.active_ribs(conn, students)  # a few statements for the whole file
    versions = await postgres_ribs.last_versions(conn, students)
    held = {pair: _details(row) for pair, row in active.items()}  # what each pair holds as rows go by
    stored: list[postgres_ribs.NewRib] = []  # in the file's order: events per student keep it
    latest: dict[tuple[uuid.UUID, str], int] = {}  # pair -> index in `stored` of its newest RIB
    to_archive: list[uuid.UUID] = []
    unchanged = 0
    for entry in entries:
        pair = (ids[entry.ine], entry.uai)
        if held.get(pair) == entry.details:
            unchanged += 1
            continue
        if pair in latest:  # the same file names this pair again: the earlier row is stored archived
            stored[latest[pair]] = dataclasses.replace(stored[latest[pair]], superseded=True)
        elif pair in active:
            to_archive.append(active[pair]["rib_id"])
        versions[pair] = versions.get(pair, 0) + 1
        latest[pair] = len(stored)
        stored.append(postgres_ribs.NewRib(uuid.uuid4(), pair[0], entry.uai, entry.details, versions[pair],
                                           superseded=False))
        held[pair] = entry.details
    await _refuse_unarchivable(conn, entries, ids, active, to_archive)
    if to_archive:
        await postgres_ribs.archive_ribs(conn, to_archive)
    if stored:
        await postgres_ribs.insert_ribs(conn, stored, recorded_by=recorded_by)
    rows = []
    for pair, row in active.items():  # archived first: a reader never holds two current RIBs of one pair
        if row["rib_id"] in to_archive:
            rows.append(event_row(topic, pair[0], events.rib_archived(row["rib_id"], pair[0], pair[1], row["version"],
                                                                      import_id)))
    for rib in stored:
        event = events.rib_recorded(rib.rib_id, rib.student_id, rib.uai, rib.details, import_id, rib.version)
        rows.append(event_row(topic, rib.student_id, event))  # keyed by student_id: never the IBAN or the INE
        if rib.superseded:  # named again further down the same file: archived as soon as recorded
            rows.append(event_row(topic, rib.student_id, events.rib_archived(
                rib.rib_id, rib.student_id, rib.uai, rib.version, import_id)))
        if events_topic is not None:
            rows.append(event_row(events_topic, rib.student_id, events.rib_on_file(event)))
            if not rib.superseded:  # the pair's current RIB changed: its status, once per pair
                rows.append(event_row(events_topic, rib.student_id, events.rib_status_changed(
                    rib.student_id, rib.uai, rib_id=rib.rib_id, owner_type=rib.details.owner_type.value,
                    version=rib.version, correlation_id=import_id)))
    recorded, archived = len(stored), len(to_archive) + sum(r.superseded for r in stored)
    await write_outbox(conn, rows)
    summary = RibSummary(recorded, unchanged, archived)  # RIBs, not events (RibOnFile doubles them)
    await postgres.record_import(conn, import_id, "ribs_web" if recorded_by else "ribs_csv", None, None, None, summary.as_dict(), [])
    log.info("ribs_recorded", import_id=str(import_id), **summary.as_dict())
    return summary
