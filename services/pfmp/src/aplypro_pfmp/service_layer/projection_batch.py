"""The students projection a batch at a time: what projection.py's handlers would leave, in a few statements.

A national import brings about 3 million student and schooling events to pfmp. Their state events (the
identity: StudentRegistered, StudentIdentityChanged, StudentAddressChanged; the schooling: SchoolingOpened,
SchoolingChanged, SchoolingClosed, SchoolingReopened; the establishments both a schooling's copy and
EstablishmentRegistered update; a pair's RIB status: RibOnFile, RibStatusChanged) are folded: the rows the batch touches read once (locked), the events applied
to them in batch order with exactly the per-event rules (the version rule, version 0 following 0, the
fingerprint times, the replay that fills what an older projection lacked), the changed rows written back in
one statement a table, and the stale counters in one.

The other events keep their per-event handlers, in batch order: hidden schoolings and INE status each write a
table of their own that the fold neither reads nor writes, so whether they run before or after
the fold's writes cannot change either outcome. A StudentsMerged moves schoolings and marks students, which
the fold does read and write: the fold is written before it and read again after it, so it applies where it
stands in the batch.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import (
    RIB_STATUS_EVENTS,
    SCHOOLING_STATE_EVENTS,
    STUDENT_STATE_EVENTS,
    EstablishmentRegistered,
    RibStatus,
    RibStatusChanged,
    SchoolingState,
    StudentsMerged,
    StudentState,
)
from aplypro_servicekit.consumer import BatchHandler, EventHandler
from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import projection_sql
from aplypro_pfmp.adapters.establishments_sql import EstablishmentFacts
from aplypro_pfmp.adapters.projection_sql import Row
from aplypro_pfmp.domain.decision_content import identity_fingerprint, schooling_fingerprint
from aplypro_pfmp.domain.student_data import asp_data_ready
from aplypro_pfmp.service_layer import projection

log = structlog.get_logger(__name__)
FOLDED = frozenset({*STUDENT_STATE_EVENTS, *SCHOOLING_STATE_EVENTS, *RIB_STATUS_EVENTS, "EstablishmentRegistered"})
# asyncpg writes datetime.min as PostgreSQL's -infinity (and reads it back so): upsert_schooling's date for a
# fingerprint filled by a replay, whose change time is unknown.
NEG_INFINITY = datetime.min  # noqa: DTZ901 (naive, as asyncpg reads -infinity back)


def batch_handler(handlers: dict[str, EventHandler]) -> BatchHandler:
    """The consumer's batch handler; `handlers` (the per-event ones) apply the events the fold leaves."""

    async def apply(conn: Connection, events: list[Any]) -> None:
        segment: list[Any] = []
        for event in events:
            if isinstance(event, StudentsMerged):
                await _fold(conn, segment, handlers)
                segment = []
                await projection.on_students_merged(conn, event)
            else:
                segment.append(event)
        await _fold(conn, segment, handlers)

    return apply


async def _fold(conn: Connection, events: list[Any], handlers: dict[str, EventHandler]) -> None:
    stale: Counter[str] = Counter()  # per event type, for the log
    counted: Counter[str] = Counter()  # stale_events' keys, as the per-event upserts count them
    students = [e for e in events if e.event_type in STUDENT_STATE_EVENTS]
    schoolings = [e for e in events if e.event_type in SCHOOLING_STATE_EVENTS or
                  isinstance(e, EstablishmentRegistered)]
    if students:
        await _students(conn, students, stale, counted)
    if schoolings:
        await _schoolings(conn, schoolings, stale, counted)
    ribs = [e for e in events if e.event_type in RIB_STATUS_EVENTS]
    if ribs:
        await _rib_statuses(conn, ribs, stale)
    await projection_sql.count_stale(conn, counted)
    for event in events:
        if event.event_type not in FOLDED:
            await handlers[event.event_type](conn, event)
    if stale:
        log.info("stale_events_dropped", **stale)


async def _students(conn: Connection, events: list[StudentState], stale: Counter[str], counted: Counter[str]) -> None:
    rows = await projection_sql.students_for_update(conn, list({e.student_id for e in events}))
    new: set[UUID] = set()
    changed: dict[UUID, Row] = {}
    for event in events:
        identity, version = event.identity, event.version
        sha = identity_fingerprint(identity)
        row = rows.get(event.student_id)
        if row is None:
            row = rows[event.student_id] = {
                "student_id": event.student_id, "ine": identity.ine, "last_name": identity.last_name,
                "first_names": list(identity.first_names), "asp_data_ready": asp_data_ready(identity),
                "da_identity_sha": sha, "da_identity_at": event.occurred_at, "identity_version": version}
            new.add(event.student_id)
        elif row["identity_version"] < version or (row["identity_version"] == 0 and version == 0):
            if sha is not None and sha != row["da_identity_sha"]:  # the time moves only when the content does
                row["da_identity_at"] = event.occurred_at
            row.update(ine=identity.ine, last_name=identity.last_name, first_names=list(identity.first_names),
                       asp_data_ready=asp_data_ready(identity), identity_version=version,
                       da_identity_sha=sha if sha is not None else row["da_identity_sha"])
        else:
            stale[event.event_type] += 1
            counted["StudentRegistered"] += 1
            continue
        changed[event.student_id] = row
    await projection_sql.write_students(conn, list(changed.values()), new)


async def _schoolings(conn: Connection, events: list[SchoolingState | EstablishmentRegistered], stale: Counter[str],
                      counted: Counter[str]) -> None:
    states = [e for e in events if not isinstance(e, EstablishmentRegistered)]
    rows = await projection_sql.schoolings_for_update(conn, list({e.schooling_id for e in states}))
    new: set[UUID] = set()
    changed: dict[UUID, Row] = {}
    # Each establishment's newest facts (the first of the newest time, as the `<` rule keeps it) and, for the
    # EstablishmentRegistered stale count, the newest time seen so far, the one held included.
    registered = [e.uai for e in events if isinstance(e, EstablishmentRegistered)]
    newest_at: dict[str, datetime] = await projection_sql.establishments_as_of(conn, registered) if registered else {}
    newest: dict[str, tuple[EstablishmentFacts, datetime]] = {}
    for event in events:
        if isinstance(event, EstablishmentRegistered):
            facts = EstablishmentFacts(event.uai, event.name, event.ministry, event.academy_code,
                                       event.contract_type_code)
        else:
            _schooling(event, rows, new, changed, stale, counted)
            e = event.establishment
            facts = EstablishmentFacts(e.uai, e.name, e.ministry, e.academy_code, e.contract_type_code)
        held = newest_at.get(facts.uai)
        if held is None or held < event.occurred_at:
            newest_at[facts.uai] = event.occurred_at
            newest[facts.uai] = (facts, event.occurred_at)
        elif isinstance(event, EstablishmentRegistered):
            stale[event.event_type] += 1
    await projection_sql.write_schoolings(conn, list(changed.values()), new)
    await projection_sql.register_establishments(conn, newest)


def _schooling(event: SchoolingState, rows: dict[UUID, Row], new: set[UUID], changed: dict[UUID, Row],
               stale: Counter[str], counted: Counter[str]) -> None:
    """upsert_schooling's rules on the row in memory."""
    sha, mef, version = schooling_fingerprint(event), event.mef.ministry, event.version
    row = rows.get(event.schooling_id)
    if row is None:
        rows[event.schooling_id] = row = {
            "schooling_id": event.schooling_id, "student_id": event.student_id, "uai": event.establishment.uai,
            "school_year": event.school_year, "status": event.status, "start_date": event.start_date,
            "end_date": event.end_date, "version": version, "class_label": event.class_label,
            "academy_code": event.establishment.academy_code, "mef_ministry": mef, "da_content_sha": sha,
            "da_content_at": event.occurred_at}
        new.add(event.schooling_id)
    elif row["version"] < version or (row["version"] == 0 and version == 0):
        if sha is not None and sha != row["da_content_sha"]:
            row["da_content_at"] = event.occurred_at
        row.update(status=event.status, start_date=event.start_date, end_date=event.end_date, version=version,
                   class_label=event.class_label, academy_code=event.establishment.academy_code,
                   mef_ministry=mef if mef is not None else row["mef_ministry"],
                   da_content_sha=sha if sha is not None else row["da_content_sha"])
    elif (sha or mef) is not None and row["version"] == version and (
            (row["da_content_sha"] is None and sha is not None) or (row["mef_ministry"] is None and mef is not None)):
        # A replay of the version held, projected before migrations 0017/0018: what it lacked is filled.
        if row["da_content_sha"] is None and sha is not None:
            row["da_content_at"] = NEG_INFINITY
        row.update(mef_ministry=row["mef_ministry"] if row["mef_ministry"] is not None else mef,
                   da_content_sha=row["da_content_sha"] if row["da_content_sha"] is not None else sha)
    else:
        stale[event.event_type] += 1
        counted["SchoolingOpened"] += 1
        return
    changed[event.schooling_id] = row


async def _rib_statuses(conn: Connection, events: list[RibStatus], stale: Counter[str]) -> None:
    """record_rib_status's rule: a status applies unless a newer version is held (the same version again applies:
    RibOnFile and RibStatusChanged of one RIB); the pair's RIB on file is the last applied status's."""
    pairs = list({(e.student_id, e.establishment_uai) for e in events})
    versions: dict[tuple[UUID, str], int] = await projection_sql.rib_versions_for_update(conn, pairs)
    new = {p for p in pairs if p not in versions}
    applied: dict[tuple[UUID, str], tuple[int, bool]] = {}
    for event in events:
        pair = (event.student_id, event.establishment_uai)
        held = versions.get(pair)
        if held is not None and held > event.version:
            stale[event.event_type] += 1
            continue
        versions[pair] = event.version
        applied[pair] = (event.version, event.has_active_rib if isinstance(event, RibStatusChanged) else True)
    await projection_sql.write_rib_statuses(conn, applied, new & set(applied))
