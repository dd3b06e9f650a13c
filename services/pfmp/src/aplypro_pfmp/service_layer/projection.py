"""Keeps pfmp's view of students and schoolings up to date from the students service's events."""

from __future__ import annotations

import structlog
from aplypro_contracts import (
    EstablishmentRegistered,
    RibStatus,
    RibStatusChanged,
    SchoolingHiddenChanged,
    SchoolingState,
    StudentIneStatusChanged,
    StudentsMerged,
    StudentState,
)
from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import (
    establishments_sql,
    hidden_sql,
    indicator_facts_sql,
    lifecycle_sql,
    merge_sql,
    postgres,
)
from aplypro_pfmp.domain.decision_content import identity_fingerprint, schooling_fingerprint
from aplypro_pfmp.domain.student_data import asp_data_ready

log = structlog.get_logger(__name__)


async def on_student_registered(conn: Connection, event: StudentState) -> None:
    """StudentRegistered, StudentIdentityChanged, StudentAddressChanged: each carries the full identity."""
    identity = event.identity
    if not await postgres.upsert_student(conn, event.student_id, identity.ine, identity.last_name,
                                         list(identity.first_names), asp_data_ready(identity),
                                         identity_fingerprint(identity), event.occurred_at, event.version):
        # an older identity read late (or a replay): a newer one is held and stays
        log.info("stale_event_dropped", event_type=event.event_type, student_id=str(event.student_id),
                 version=event.version)


async def on_schooling_opened(conn: Connection, event: SchoolingState) -> None:
    """SchoolingOpened, SchoolingChanged, SchoolingClosed, SchoolingReopened: each carries the full state and the
    schooling's version (one sequence), so each is applied alike and an older one is dropped."""
    applied = await postgres.upsert_schooling(conn, {
        "schooling_id": event.schooling_id, "student_id": event.student_id,
        "uai": event.establishment.uai, "school_year": event.school_year, "status": event.status,
        "start_date": event.start_date, "end_date": event.end_date, "version": event.version,
        "class_label": event.class_label, "academy_code": event.establishment.academy_code,
        "mef_ministry": event.mef.ministry,
        "da_content_sha": schooling_fingerprint(event), "occurred_at": event.occurred_at,
    })
    if not applied:  # older than (or a replay of) the schooling held: dropped, counted
        log.info("stale_event_dropped", event_type=event.event_type, schooling_id=str(event.schooling_id),
                 version=event.version)
    # The establishment as students knew it when it sent the schooling: enough until (or if) its directory
    # event comes; a newer EstablishmentRegistered is never overwritten by it.
    e = event.establishment
    await establishments_sql.register(conn, establishments_sql.EstablishmentFacts(
        e.uai, e.name, e.ministry, e.academy_code, e.contract_type_code), event.occurred_at)


async def on_establishment_registered(conn: Connection, event: EstablishmentRegistered) -> None:
    """The students service loaded its establishments directory: statistics' ministry and sector."""
    facts = establishments_sql.EstablishmentFacts(event.uai, event.name, event.ministry, event.academy_code,
                                                  event.contract_type_code)
    if not await establishments_sql.register(conn, facts, event.occurred_at):
        log.info("stale_event_dropped", event_type=event.event_type, uai=event.uai)


async def on_rib_status(conn: Connection, event: RibStatus) -> None:
    """RibStatusChanged, and RibOnFile its predecessor (a RIB on file, same version sequence): whether the
    student has a current RIB for this establishment (no bank data here), validation's RIB guard."""
    has_rib = event.has_active_rib if isinstance(event, RibStatusChanged) else True
    if not await lifecycle_sql.record_rib_status(conn, event.student_id, event.establishment_uai, has_rib=has_rib,
                                                 version=event.version):
        log.info("stale_event_dropped", event_type=event.event_type, student_id=str(event.student_id),
                 version=event.version)


async def on_schooling_hidden_changed(conn: Connection, event: SchoolingHiddenChanged) -> None:
    """Staff hid or reintegrated the schooling (students service): pages and counters leave it out."""
    if not await hidden_sql.apply_hidden(conn, event.schooling_id, event.hidden, event.version):
        log.info("stale_event_dropped", event_type=event.event_type, schooling_id=str(event.schooling_id),
                 version=event.version)


async def on_ine_status_changed(conn: Connection, event: StudentIneStatusChanged) -> None:
    """The student API found the INE, or not: an INE not found is not valid data (indicators only)."""
    if not await indicator_facts_sql.ine_status(conn, event.student_id, event.ine_status == "not_found",
                                                event.version):
        log.info("stale_event_dropped", event_type=event.event_type, student_id=str(event.student_id),
                 version=event.version)


async def on_students_merged(conn: Connection, event: StudentsMerged) -> None:
    """The students service merged two students (imports.md §5.8): the merged student's schoolings, PFMPs,
    reports and RIB facts move to the survivor, and a PFMP file naming the merged INE finds the survivor. PFMPs
    keep their versions: their next event carries the survivor. Overlapping PFMPs of the pair refuse it
    (MergeConflict: dead-lettered, replayed once staff fixed them)."""
    if not await merge_sql.record_merge(conn, event.merged_id, event.survivor_id, event.version):
        log.info("stale_event_dropped", event_type=event.event_type, student_id=str(event.survivor_id),
                 version=event.version)
        return
    moved = await merge_sql.repoint(conn, event.merged_id, event.survivor_id)
    log.info("students_merged", survivor_id=str(event.survivor_id), merged_id=str(event.merged_id), pfmps=moved)
