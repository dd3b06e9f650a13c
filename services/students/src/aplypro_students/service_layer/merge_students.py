"""Merge two stored students found to be one person (imports.md §5.8), by an operator's explicit command.

Two INEs of the national pattern are never merged by an import (§5.2): an import leaves a `possible_duplicate`
review item, and this command resolves it. In one transaction, under the reconciliation lock: the merged
student's schoolings and RIBs move to the survivor, a placeholder INE gives way to the real one, the merged
student stays as a tombstone pointing to the survivor (never deleted; an import of its INE lands on the
survivor), one audit record, and the events through the outbox, all keyed by the survivor: StudentsMerged,
then each moved schooling's SchoolingOpened (student = survivor, next version; a folded duplicate also its
SchoolingHiddenChanged), each moved active RIB's RibRecorded, RibOnFile and RibStatusChanged, a RibArchived for
each active RIB of the merged student kept archived (the survivor's stays current), a RibStatusChanged without a
RIB for each establishment where the merged student had one (keyed by the merged student: its pair lost it), and
both students' StudentIdentityChanged (`ine`, next version) when the survivor took the merged student's INE.
A RIB frozen on a payment in progress may be archived by a merge: the request keeps the RIB it froze. The ASP individual id is not kept here (asp-gateway).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import SchoolingHiddenChanged, StudentsMerged
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox

from aplypro_students.adapters import postgres, postgres_merge
from aplypro_students.domain.identity_match import Candidate
from aplypro_students.domain.merge import MergeRefused, MergeSide, check_pair, plan_schoolings, takes_ine
from aplypro_students.domain.model import Schooling
from aplypro_students.domain.rib import BankDetails, OwnerType
from aplypro_students.service_layer import events
from aplypro_students.service_layer.events import PRODUCER
from aplypro_students.service_layer.ine_status import record_ine_status

log = structlog.get_logger(__name__)


@dataclass
class MergeReport:
    """What the merge moves (or, in a dry run, would move): ids and counts, never personal data."""

    survivor_id: UUID
    merged_id: UUID
    dry_run: bool
    schoolings_moved: list[UUID] = field(default_factory=list)
    schoolings_folded: list[UUID] = field(default_factory=list)  # same class as one of the survivor: hidden
    ribs_moved: list[UUID] = field(default_factory=list)  # active at an establishment the survivor has none
    ribs_archived: list[UUID] = field(default_factory=list)  # moved archived: the survivor's active one stays
    ine_taken: bool = False  # the survivor's placeholder INE gave way to the merged student's real one
    review_items_resolved: int = 0
    events: int = 0
    merge_id: UUID | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"survivor_id": str(self.survivor_id), "merged_id": str(self.merged_id), "dry_run": self.dry_run,
                "schoolings_moved": [str(i) for i in self.schoolings_moved],
                "schoolings_folded": [str(i) for i in self.schoolings_folded],
                "ribs_moved": [str(i) for i in self.ribs_moved], "ribs_archived": [str(i) for i in self.ribs_archived],
                "ine": "taken_from_merged" if self.ine_taken else "survivor_kept",
                "review_items_resolved": self.review_items_resolved, "events": self.events,
                "merge_id": None if self.merge_id is None else str(self.merge_id)}


async def merge_students(conn: Connection, survivor_id: UUID, merged_id: UUID, *, by: str, topic: str,
                         ribs_topic: str, dry_run: bool = False) -> MergeReport:
    """Run inside the caller's transaction; raises MergeRefused before writing anything."""
    if not by.strip():
        raise MergeRefused("merge.user_required", "who merges (--by) is required: the audit record")
    await postgres.lock_reconciliation(conn)  # no import between reading and moving
    rows = await postgres_merge.lock_students(conn, [survivor_id, merged_id])
    for sid in (survivor_id, merged_id):
        if sid not in rows:
            raise MergeRefused("merge.unknown_student", f"no student {sid}")
    survivor, merged = (await _side(conn, rows[survivor_id]), await _side(conn, rows[merged_id]))
    check_pair(survivor, merged, same_person=await postgres_merge.same_person(conn, survivor_id, merged_id))
    moves = plan_schoolings(survivor, merged)
    report = MergeReport(survivor_id, merged_id, dry_run, list(moves.moved), [f for f, _ in moves.folded],
                         ine_taken=takes_ine(survivor, merged))
    ribs = await postgres_merge.ribs_of(conn, [survivor_id, merged_id])
    rib_moves = _plan_ribs(ribs, survivor_id, merged_id)
    report.ribs_moved = [rib for rib, _, archive in rib_moves if not archive and _active(ribs, rib)]
    report.ribs_archived = [rib for rib, _, archive in rib_moves if archive and _active(ribs, rib)]
    if dry_run:
        return report
    found_again = 0
    if report.ine_taken:
        real_ine = await postgres_merge.swap_ines(conn, survivor_id, merged_id)
        if rows[survivor_id]["ine_status"] == "not_found":  # as at import (§5.2): the ine_not_found gate lifts
            found_again = (await record_ine_status(conn, [real_ine], "found", by=f"merge:{by}", topic=topic)).changed
    await postgres_merge.move_schoolings(conn, survivor_id, moves.moved, moves.folded, by)
    await postgres_merge.move_ribs(conn, survivor_id, rib_moves)
    version = await postgres_merge.make_tombstone(conn, survivor_id, merged_id)
    report.review_items_resolved = await postgres_merge.resolve_review_items(conn, survivor_id, merged_id)
    report.merge_id = uuid.uuid4()
    lost = _lost_ribs(ribs, merged_id)
    out = await _events(conn, report, version, topic, ribs_topic, lost, newly_hidden=[
        s.schooling_id for s in merged.schoolings if s.schooling_id in report.schoolings_folded and not s.hidden])
    await write_outbox(conn, out)
    report.events = len(out) + found_again
    await postgres_merge.record_merge(conn, report.merge_id, survivor_id, merged_id, by, report.ine_taken,
                                      {k: v for k, v in report.as_dict().items()
                                       if k not in ("survivor_id", "merged_id", "dry_run", "merge_id")})
    log.info("students_merged", merge_id=str(report.merge_id), survivor_id=str(survivor_id),
             merged_id=str(merged_id), schoolings=len(moves.moved) + len(moves.folded), events=len(out))
    return report


async def _side(conn: Connection, row: Any) -> MergeSide:
    placeholder = Candidate(row["student_id"], row["ine"], row["ine_status"]).is_placeholder
    schoolings: list[Schooling] = await postgres_merge.schoolings_of(conn, row["student_id"])
    return MergeSide(row["student_id"], placeholder, row["merged_into"], tuple(schoolings))


def _active(ribs: list[Any], rib_id: UUID) -> bool:
    return any(r["rib_id"] == rib_id and r["archived_at"] is None for r in ribs)


def _lost_ribs(ribs: list[Any], merged: UUID) -> dict[str, int]:
    """Establishment -> the version of the merged student's "no RIB any more" status there: the next after its
    last RIB of the establishment (the tombstone never gets another one)."""
    last: dict[str, int] = {}
    for r in ribs:
        if r["student_id"] == merged:
            last[r["uai"]] = max(last.get(r["uai"], 0), r["version"])
    return {r["uai"]: last[r["uai"]] + 1 for r in ribs if r["student_id"] == merged and r["archived_at"] is None}


def _plan_ribs(ribs: list[Any], survivor: UUID, merged: UUID) -> list[tuple[UUID, int, bool]]:
    """Each RIB of the merged student: (id, its version after the survivor's at that establishment, archive it).
    Where the survivor has an active RIB it stays the active one; the merged student's is kept, archived."""
    last: dict[str, int] = {}
    active: set[str] = set()
    for r in ribs:
        if r["student_id"] == survivor:
            last[r["uai"]] = max(last.get(r["uai"], 0), r["version"])
            if r["archived_at"] is None:
                active.add(r["uai"])
    moves: list[tuple[UUID, int, bool]] = []
    for r in ribs:  # by establishment and version: the moved history keeps its order
        if r["student_id"] == merged:
            last[r["uai"]] = last.get(r["uai"], 0) + 1
            moves.append((r["rib_id"], last[r["uai"]], r["uai"] in active))
    return moves


async def _events(conn: Connection, report: MergeReport, version: int, topic: str, ribs_topic: str,
                  lost: dict[str, int], newly_hidden: list[UUID]) -> list[OutboxRow]:
    survivor = report.survivor_id
    cause = report.merge_id or uuid.uuid4()
    merged_event = StudentsMerged(producer=PRODUCER, correlation_id=cause, survivor_id=survivor,
                                  merged_id=report.merged_id, version=version)
    out = [event_row(topic, survivor, merged_event)]
    if report.ine_taken:  # both identities changed INE: each keyed by its own id, at its next version
        pair = [survivor, report.merged_id]
        versions = await postgres_merge.identity_versions(conn, pair)
        for sid, identity in (await postgres_merge.identities_of(conn, pair)).items():
            out += [event_row(topic, sid, e)
                    for e in events.student_corrected(sid, identity, versions[sid], ("ine",), (), cause)]
    ids = [*report.schoolings_moved, *report.schoolings_folded]
    views = await postgres.schooling_views(conn, ids)
    out += [event_row(topic, survivor, events.schooling_opened(v, cause)) for v in views]
    hidden = await postgres_merge.hidden_versions(conn, newly_hidden)
    out += [event_row(topic, survivor, SchoolingHiddenChanged(
        producer=PRODUCER, correlation_id=cause, schooling_id=sid, student_id=survivor, hidden=True,
        version=hidden[sid])) for sid in newly_hidden]
    moved_ribs = await postgres_merge.ribs_of(conn, [survivor])
    for r in moved_ribs:
        if r["rib_id"] in report.ribs_moved:
            recorded = events.rib_recorded(r["rib_id"], survivor, r["uai"], BankDetails(
                OwnerType(r["owner_type"]), r["holder_name"], r["iban"], r["bic"]), cause, r["version"])
            out += [event_row(ribs_topic, survivor, recorded), event_row(topic, survivor, events.rib_on_file(recorded)),
                    event_row(topic, survivor, events.rib_status_changed(
                        survivor, r["uai"], rib_id=r["rib_id"], owner_type=r["owner_type"], version=r["version"],
                        correlation_id=cause))]
        elif r["rib_id"] in report.ribs_archived:
            out.append(event_row(ribs_topic, survivor, events.rib_archived(r["rib_id"], survivor, r["uai"],
                                                                           r["version"], cause)))
    out += [event_row(topic, report.merged_id, events.rib_status_changed(
        report.merged_id, uai, rib_id=None, owner_type=None, version=lost_version, correlation_id=cause))
        for uai, lost_version in sorted(lost.items())]
    return out

