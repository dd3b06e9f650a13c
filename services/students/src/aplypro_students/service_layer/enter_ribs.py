"""RIBs entered by a school user (the web application, through the internal API): every field of every
entry checked, then the record-RIB use case, all or nothing, with the user's id for the audit trail.

The web knows students by id, the use case by INE: the INE is looked up here and never leaves the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_students.adapters import postgres_rib_view
from aplypro_students.adapters.postgres_rib_view import RibView
from aplypro_students.domain.report import InvalidFile, RowError
from aplypro_students.domain.rib import InvalidBankDetails, OwnerType, check_bank_details
from aplypro_students.service_layer.record_ribs import RecordRib, RibSummary, record_ribs


@dataclass(frozen=True)
class EnteredRib:
    """One line of the form: raw text as typed (normalised and checked here)."""

    student_id: UUID
    owner_type: OwnerType
    holder_name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class EnteredRibs:
    summary: RibSummary
    ribs: list[RibView]  # the active RIB of each entered student, as the page shows it at once


async def enter_ribs(conn: Connection, uai: str, entries: list[EnteredRib], *, recorded_by: str, topic: str,
                     events_topic: str) -> EnteredRibs:
    """Run inside the caller's transaction. Raises InvalidFile listing every refusal (`line` is the entry's
    1-based position, `column` the field, `code` the stable key): then nothing is recorded."""
    errors: list[RowError] = []
    ines = await postgres_rib_view.ines_of(conn, [e.student_id for e in entries])
    commands: list[RecordRib] = []
    seen: set[UUID] = set()
    for line, entry in enumerate(entries, start=1):
        if entry.student_id in seen:  # two RIBs of one student in one form: the second would silently win
            errors.append(RowError(line, "student_id", "student.duplicate", "this student is already in the form"))
            continue
        seen.add(entry.student_id)
        try:
            details = check_bank_details(entry.owner_type, entry.holder_name, entry.iban, entry.bic)
        except InvalidBankDetails as exc:
            errors.extend(RowError(line, e.field, e.code, str(e)) for e in exc.errors)
            continue
        if entry.student_id not in ines:
            errors.append(RowError(line, "student_id", "student.unknown", "no such student"))
            continue
        commands.append(RecordRib(line, ines[entry.student_id], uai, details))
    if errors:
        raise InvalidFile(errors)
    summary = await record_ribs(conn, commands, topic=topic, events_topic=events_topic, recorded_by=recorded_by)
    views = await postgres_rib_view.active_ribs(conn, uai, [e.student_id for e in entries])
    return EnteredRibs(summary, [views[e.student_id] for e in entries if e.student_id in views])
