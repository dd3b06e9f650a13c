"""Imports one establishment's schooling records: check against the reference, reconcile, emit changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal
from uuid import UUID

import structlog
from aplypro_contracts import StudentState
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox
from aplypro_servicekit.record_size import ENV_NAME, RecordTooLarge

from aplypro_students.adapters import postgres
from aplypro_students.adapters.postgres_calendar import calendar_of
from aplypro_students.adapters.postgres_communes import commune_exceptions
from aplypro_students.adapters.postgres_departures import open_schoolings_in, survivor_ines
from aplypro_students.adapters.postgres_identity import flag_possible_duplicates
from aplypro_students.adapters.postgres_reference import academy_of, eligible_mefs, known_establishments
from aplypro_students.domain.changes import ChangeCounts, count_changes
from aplypro_students.domain.departures import DEFAULT_MAX_SHARE, check_departures, close_absent
from aplypro_students.domain.model import Identity, Schooling, SchoolingRecord
from aplypro_students.domain.reconcile import (
    Placement,
    collapse,
    current_school_year,
    merge_identity,
    plan_schoolings,
    school_year_end,
)
from aplypro_students.domain.report import InvalidFile, RowError
from aplypro_students.domain.what_changed import identity_changes, schooling_change
from aplypro_students.service_layer import events
from aplypro_students.service_layer.exclusions import excluded_lines, split_excluded
from aplypro_students.service_layer.ine_status import record_ine_status
from aplypro_students.service_layer.match_students import match_students

log = structlog.get_logger(__name__)


class MissingReference(LookupError):
    code = "missing_reference"


@dataclass(frozen=True)
class ImportStudents:
    """Command: the schooling records of one establishment and school year, already normalised."""

    uai: str
    records: list[SchoolingRecord]
    rejected: list[RowError] = field(default_factory=list)  # rows the reader refused
    warnings: list[RowError] = field(default_factory=list)
    mode: Literal["partial", "full"] = "partial"
    accept_valid_rows: bool = False  # else one refused row imports nothing
    source: str = "csv"
    # full mode (§5.6): absentees have left, under the mass-departure guard
    force_departures: bool = False  # the operator reviewed a refused snapshot: close anyway
    listed_ines: frozenset[str] | None = None  # every INE the source listed, refused rows included
    school_year: int | None = None  # of an empty snapshot (else the records'; default: the current one)


@dataclass(frozen=True)
class ImportSummary:
    import_id: UUID
    students: int
    new: int
    changed: int
    schoolings: int
    schoolings_written: int
    events: int
    rejected: list[RowError]
    warnings: list[RowError]
    changes: ChangeCounts = field(default_factory=ChangeCounts)
    departures: int = 0  # full mode: open schoolings closed because the snapshot no longer lists them
    excluded: list[RowError] = field(default_factory=list)  # records an exclusion covers: skipped (§5.1)
    communes_remapped: int = 0  # records whose birth or residence commune code was obsolete (§4)

    def as_dict(self) -> dict[str, Any]:
        return {"import_id": str(self.import_id), "students": self.students, "new": self.new,
                "changed": self.changed, "schoolings": self.schoolings,
                "schoolings_written": self.schoolings_written, "events": self.events, **self.changes.as_dict(),
                "departures": self.departures, "communes_remapped": self.communes_remapped,
                "rejected": [e.as_dict() for e in self.rejected], "warnings": [w.as_dict() for w in self.warnings],
                "excluded": [e.as_dict() for e in self.excluded]}


async def check_reference(conn: Connection, command: ImportStudents) -> tuple[list[SchoolingRecord], list[RowError]]:
    """Unknown establishment: nothing imports. A MEF outside the year's list refuses its row."""
    if not await known_establishments(conn, [command.uai]):
        raise InvalidFile([RowError(0, "uai", "uai.unknown", "establishment not in the reference data")])
    errors = list(command.rejected)
    records = command.records
    if records:
        year = records[0].school_year
        eligible = await eligible_mefs(conn, year, sorted({r.mef_code for r in records}))
        errors += [RowError(r.line, "code_mef", "code_mef.not_eligible", f"not in the MEF list of {year}")
                   for r in records if r.mef_code not in eligible]
        records = [r for r in records if r.mef_code in eligible]
    errors.sort(key=lambda e: e.line)
    if errors and not command.accept_valid_rows:
        raise InvalidFile(errors)
    return records, errors


async def import_students(conn: Connection, command: ImportStudents, *, today: date, topic: str,
                          max_departure_share: float = DEFAULT_MAX_SHARE) -> ImportSummary:
    """Run inside the caller's transaction: state, import report and outbox rows commit together.

    Full mode raises MassDeparture before anything is written when the guard refuses the snapshot."""
    if len({r.school_year for r in command.records}) > 1:
        raise ValueError("one import is one establishment and one school year")
    valid, rejected = await check_reference(conn, command)
    valid, excluded = await split_excluded(conn, command.uai, valid)
    if command.mode == "full" and rejected and command.listed_ines is None:
        # a refused row's student is still there: closing it as a departure would be wrong
        raise InvalidFile([*rejected, RowError(0, "*", "mode.full_with_refused_rows",
                                               "full mode needs every row valid: absentees would be closed")])
    valid, remapped = await _remap_communes(conn, valid)
    records = collapse(valid)
    import_id = uuid.uuid4()
    academy = await academy_of(conn, command.uai)
    calendar = await calendar_of(conn, academy)  # its school years (§6.3); not loaded: the fallback's
    year = records[0].school_year if records else command.school_year or current_school_year(today, academy,
                                                                                             calendar)
    await postgres.lock_reconciliation_of(
        conn, command.uai, {r.identity.ine for r in [*records, *excluded]} | set(command.listed_ines or ()),
        {(r.identity.last_name, r.identity.first_names[0], r.identity.birth_date) for r in records},
        departures_from=year if command.mode == "full" else None)
    absent: list[Schooling] = []
    if command.mode == "full":
        # a student in an excluded class is still listed: an exclusion added mid-year is not a departure
        present = {r.identity.ine for r in [*records, *excluded]} | set(command.listed_ines or ())
        present |= await survivor_ines(conn, present)
        open_here = await open_schoolings_in(conn, command.uai, year)
        absent = [s for ine, s in open_here if ine not in present]
        check_departures(len(absent), len(open_here), listed=len(present), max_share=max_departure_share,
                         force=command.force_departures)
    sent: dict[str, Identity] = {}
    for r in records:  # the reader checked that rows of one INE agree: together they give its identity
        sent[r.identity.ine] = merge_identity(sent.get(r.identity.ine), r.identity)
    matched = await match_students(conn, sent)
    ids, new, changed = matched.ids, matched.new, matched.changed
    await postgres.insert_students(conn, new, command.source)
    corrections = {sid: identity_changes(matched.before[sid], identity) for sid, identity in changed}
    versions = await postgres.update_students(
        conn, [(sid, identity, sum(1 for fields in corrections[sid] if fields)) for sid, identity in changed],
        command.source)
    await flag_possible_duplicates(conn, matched.possible_duplicates, import_id)
    classes = await postgres.ensure_classes(conn, command.uai, year, {(r.class_label, r.mef_code) for r in records})
    placements = [Placement(ids[r.identity.ine], classes[r.class_label, r.mef_code], r) for r in records]
    existing = await postgres.schoolings_of(conn, list(ids.values()), sorted({p.class_id for p in placements}))
    planned = plan_schoolings(placements, existing, today=today, new_id=uuid.uuid4, academy_code=academy,
                              calendar=calendar)
    current_year = current_school_year(today, academy, calendar)
    closed = [close_absent(s, today=today, current_year=current_year,
                           year_end=school_year_end(s.school_year, academy, calendar))
              for s in absent]  # absent students are not in `placements`: plan_schoolings never touches them
    planned = [*closed, *planned]  # closings first, as write_schoolings needs
    await postgres.write_schoolings(conn, planned, {s.schooling_id for s in [*existing, *closed]}, command.source)
    await postgres.mark_seen(conn, [p.student_id for p in placements], [p.class_id for p in placements])
    student_events: list[tuple[UUID, list[StudentState]]] = [
        (sid, [events.student_registered(sid, identity, import_id)]) for sid, identity in new]
    student_events += [(sid, events.student_corrected(sid, identity, versions[sid], *corrections[sid], import_id))
                       for sid, identity in changed]
    before = {s.schooling_id: s for s in [*existing, *absent]}
    rows, lines = await _outbox_rows(conn, student_events, [(before.get(s.schooling_id), s) for s in planned],
                                     topic, import_id, _lines_of(placements))
    try:
        await write_outbox(conn, rows)
    except RecordTooLarge as exc:  # the caller's transaction rolls back: nothing is imported
        raise InvalidFile([RowError(lines[exc.index], "*", "row.record_too_large",
                                    f"its event of {exc.size} bytes is over the {exc.limit}-byte limit "
                                    f"({ENV_NAME})")]) from None
    written = len(rows)
    if matched.found_again:  # a not_found INE replaced by the real one: the ine_not_found gate lifts
        written += (await record_ine_status(conn, matched.found_again, "found", by=f"import:{command.source}",
                                            topic=topic)).changed
    # the absentees' schoolings closed here were read apart from `existing`: they are closings, not openings
    changes = count_changes(placements, [*existing, *absent], planned, {sid for sid, _ in [*new, *changed]})
    summary = ImportSummary(import_id, len(sent), len(new), len(changed), len(records), len(planned), written,
                            rejected, command.warnings, changes, len(closed), excluded_lines(excluded), remapped)
    await postgres.record_import(
        conn, import_id, f"students_{command.source}", command.uai, year or None, command.mode,
        {k: v for k, v in summary.as_dict().items() if isinstance(v, int)},
        [e.as_dict() for e in rejected],
    )
    log.info("students_imported", import_id=str(import_id), students=len(sent), new=len(new),
             changed=len(changed), schoolings_written=len(planned), events=written, rejected=len(rejected),
             departures=len(closed), excluded=len(excluded), mode=command.mode)
    return summary


async def _remap_communes(conn: Connection, records: list[SchoolingRecord]) -> tuple[list[SchoolingRecord], int]:
    """Step 1's last part, for every source (imports.md §4): obsolete commune codes take their new code, before
    matching (the birth city is part of the identity) and before the diff, so a re-import changes nothing."""
    exceptions = await commune_exceptions(conn)
    if not exceptions.table:
        return records, 0
    out = [replace(r, identity=exceptions.remap(r.identity)) for r in records]
    return out, sum(1 for before, after in zip(records, out, strict=True) if before.identity != after.identity)


def _lines_of(placements: list[Placement]) -> dict[tuple[UUID, UUID | None], int]:
    """The file line behind each (student, class), and (student, None) for the student's first line."""
    lines: dict[tuple[UUID, UUID | None], int] = {}
    for p in placements:
        lines.setdefault((p.student_id, p.class_id), p.record.line)
        lines[p.student_id, None] = min(lines.get((p.student_id, None), p.record.line), p.record.line)
    return lines


async def _outbox_rows(conn: Connection, students: list[tuple[UUID, list[StudentState]]],
                       planned: list[tuple[Schooling | None, Schooling]], topic: str, import_id: UUID,
                       lines_of: dict[tuple[UUID, UUID | None], int]) -> tuple[list[OutboxRow], list[int]]:
    """Per student, its identity events come before its schoolings' (closings first), keyed by student_id. Each
    schooling written is the event of its change (domain.what_changed): opened, closed, reopened or changed.

    Also returns the file line of each row, so a refused record is reported where it came from.
    """
    views = {v["schooling_id"]: v for v in await postgres.schooling_views(conn, [s.schooling_id for _, s in planned])}
    if len(views) != len(planned):
        raise MissingReference("a schooling's class has no establishment or MEF in the reference data")
    rows = [event_row(topic, sid, event) for sid, told in students for event in told]
    lines = [lines_of[sid, None] for sid, told in students for _ in told]
    rows += [event_row(topic, s.student_id, events.schooling_event(views[s.schooling_id], *schooling_change(old, s),
                                                                   import_id))
             for old, s in planned]
    # an existing schooling closed by this import has no row of its own: the student's first line stands for it
    # a departure (full mode) has no line at all: 0, "the file"
    lines += [lines_of.get((s.student_id, s.class_id), lines_of.get((s.student_id, None), 0)) for _, s in planned]
    return rows, lines
