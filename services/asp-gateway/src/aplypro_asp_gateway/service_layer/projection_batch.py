"""The gateway's projection consumers a batch at a time: what the per-event handlers (projection.py) would leave, in
a few statements whatever the batch's size.

As `projection.in_student_order`, the clocks of all the batch's students come first, in one sorted statement (the
survivors their merged students' events land on included), and each event is read as its survivor's once a
merge is committed (`repointed`). A StudentsMerged is a barrier: the events before it are applied, then the
merge alone, then the events after it are re-pointed (they may now carry the merged id) and applied.

Between barriers, the high-volume events are folded (`FOLDED`): identities, schoolings, caps, RIBs, DA numbers,
printed PFMP numbers and payment requests. The rows they touch are read once (locked), the events applied to them
in batch order in Python with exactly projection.py's rules, the changed rows written back in a statement or two a
table, the requests inserted in one, the students' pending requests flagged for a new check in one (the
per-event rule: after every fact, stale or not, but a DA already held), the stale counters in one. The rarer
events (RibArchived, a retrait, a hidden schooling, an INE status, a retry) read or write what the fold writes:
the run folded so far is written before each of them, which then goes through its per-event handler.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import (
    SCHOOLING_STATE_EVENTS,
    STUDENT_STATE_EVENTS,
    DocumentIssued,
    DocumentReady,
    Envelope,
    PaymentRequested,
    RibRecorded,
    SchoolingChanged,
    SchoolingClosed,
    SchoolingOpened,
    SchoolingPriced,
    SchoolingReopened,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentRegistered,
    StudentsMerged,
)
from aplypro_servicekit.consumer import BatchHandler, EventHandler
from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters import projection_batch_sql as sql
from aplypro_asp_gateway.adapters import projection_repo as repo
from aplypro_asp_gateway.adapters.projection_batch_sql import Row
from aplypro_asp_gateway.adapters.recheck_flags import flag_pending
from aplypro_asp_gateway.service_layer.merges import repointed, survivors_of

log = structlog.get_logger(__name__)

FOLDED = frozenset({*STUDENT_STATE_EVENTS, *SCHOOLING_STATE_EVENTS, "RibRecorded", "SchoolingPriced",
                    "PaymentRequested", "DocumentIssued", "DocumentReady"})
# Of the documents, the kinds folded: a retrait reads and marks the payment requests (its per-event handler).
_FOLDED_KINDS = frozenset({"attribution", "liquidation", "abrogation"})
_STUDENTS = StudentRegistered | StudentIdentityChanged | StudentAddressChanged
_SCHOOLINGS = SchoolingOpened | SchoolingChanged | SchoolingClosed | SchoolingReopened
_DOCUMENTS = DocumentIssued | DocumentReady


def batch_handler(handlers: dict[str, EventHandler]) -> BatchHandler:
    """The consumer's batch handler; `handlers` (the per-event ones, HANDLERS_BY_TOPIC's) apply what the fold
    leaves, unwrapped: the batch takes the clocks and re-points the events itself."""
    plain = {t: getattr(h, "__wrapped__", h) for t, h in handlers.items()}

    async def apply(conn: Connection, events: list[Any]) -> None:
        students = {sid for e in events if (sid := getattr(e, "student_id", None))}
        students |= {sid for e in events if isinstance(e, StudentsMerged) for sid in (e.survivor_id, e.merged_id)}
        await repo.tick_students(conn, sorted(students | set(await survivors_of(conn, events))))
        stretch: list[Any] = []
        for event in events:
            if isinstance(event, StudentsMerged):
                await _stretch(conn, stretch, plain)
                stretch = []
                await plain[event.event_type](conn, event)
            else:
                stretch.append(event)
        await _stretch(conn, stretch, plain)

    return apply


def _folded(event: Envelope) -> bool:
    return event.event_type in FOLDED and (not isinstance(event, _DOCUMENTS) or event.kind in _FOLDED_KINDS)


async def _stretch(conn: Connection, events: list[Any], handlers: dict[str, EventHandler]) -> None:
    """Events with no merge between them: re-pointed once (read once the clocks are held: a merge committed), then
    folded run by run around the per-event ones."""
    if not events:
        return
    run: list[Any] = []
    for event in await repointed(conn, events):
        if _folded(event):
            run.append(event)
            continue
        await fold(conn, run)
        run = []
        await handlers[event.event_type](conn, event)
    await fold(conn, run)


class _Run:
    """What a run of folded events leaves besides its rows: the stale counts and the students to check again."""

    def __init__(self) -> None:
        self.stale: Counter[str] = Counter()
        self.recheck: set[UUID] = set()

    def drop(self, event_type: str, aggregate_id: UUID, version: int) -> None:
        """projection._stale's count (written once for the run) and its log line, without personal data."""
        self.stale[event_type] += 1
        log.info("stale_event_dropped", event_type=event_type, aggregate_id=str(aggregate_id), version=version)


async def fold(conn: Connection, events: list[Any]) -> None:
    if not events:
        return
    students, schoolings, caps, ribs, documents, requests = [], [], [], [], [], []
    for event in events:
        if isinstance(event, _STUDENTS):
            students.append(event)
        elif isinstance(event, _SCHOOLINGS):
            schoolings.append(event)
        elif isinstance(event, SchoolingPriced):
            caps.append(event)
        elif isinstance(event, RibRecorded):
            ribs.append(event)
        elif isinstance(event, _DOCUMENTS):
            documents.append(event)
        elif isinstance(event, PaymentRequested):
            requests.append(event)
        else:  # a folded type in a model the fold does not know: the consumer replays the batch event by event
            raise TypeError(f"{event.event_type} as {type(event).__name__} is not folded")
    run = _Run()
    await _students(conn, students, run)
    await _schoolings(conn, schoolings, run)
    await _caps(conn, caps, run)
    await _ribs(conn, ribs, run)
    await _decisions(conn, [e for e in documents if e.kind == "attribution"], run)
    await _printed_numbers(conn, [e for e in documents if e.kind == "liquidation" and e.pfmp_numbers])
    await _requests(conn, requests, run)
    # after the requests (a new row is flagged already); the clocks were taken first by the batch
    await flag_pending(conn, run.recheck)
    await sql.count_stale(conn, run.stale)


def _newer(row: Row | None, version: int, as_of: Any, held_version: str = "version") -> bool:
    """projection_repo's rule: a newer version; between two unversioned (version 0) states, the later or same
    occurred_at. Nothing held: applied."""
    return row is None or row[held_version] < version or (
        version == 0 and row[held_version] == 0 and row["as_of"] <= as_of)


async def _versioned(conn: Connection, table: sql.Table, events: list[Any], run: _Run, *, key: Callable[[Any], Any],
                     aggregate: Callable[[Any], UUID], state: Callable[[Any], Row],
                     version_column: str = "version") -> None:
    """Rows kept by version (then by time between unversioned ones): the newest state of each key written, an
    older event dropped; every event, applied or stale, flags its student's pending requests."""
    if not events:
        return
    rows = await sql.held(conn, table, [*table.keys, version_column, "as_of"], [key(e)[0] for e in events])
    current: dict[Any, Row] = {tuple(r[k] for k in table.keys): r for r in rows}
    read, changed = set(current), set()
    for event in events:
        k = key(event)
        if _newer(current.get(k), event.version, event.occurred_at, version_column):
            current[k] = state(event)
            changed.add(k)
        else:
            run.drop(event.event_type, aggregate(event), event.version)
        run.recheck.add(event.student_id)
    single = len(table.keys) == 1
    await sql.write(conn, table, [current[k] for k in changed], {k[0] if single else k for k in read})


async def _students(conn: Connection, events: list[Any], run: _Run) -> None:
    """on_student_registered: the identity by its version (migration 0015), version 0 after version 0 by time."""
    def state(e: Any) -> Row:
        identity, address = e.identity, e.identity.address
        return {"student_id": e.student_id, "last_name": identity.last_name, "first_names": list(identity.first_names),
                "birth_date": identity.birth_date, "sex": identity.sex, "birth_city_insee": identity.birth_city_insee,
                "birth_country_insee": identity.birth_country_insee, "address_postal_code": address.postal_code,
                "address_city_insee": address.city_insee, "address_country_insee": address.country_insee,
                "as_of": e.occurred_at, "address_lines": list(address.lines), "address_city_name": address.city_name,
                "identity_version": e.version}

    await _versioned(conn, sql.STUDENTS, events, run, key=lambda e: (e.student_id,), aggregate=lambda e: e.student_id,
                     state=state, version_column="identity_version")


async def _schoolings(conn: Connection, events: list[Any], run: _Run) -> None:
    """on_schooling_opened: every schooling state event alike, one version sequence per schooling."""
    def state(e: Any) -> Row:
        school = e.establishment
        return {"schooling_id": e.schooling_id, "student_id": e.student_id, "uai": school.uai,
                "contract_type_code": school.contract_type_code, "mef_code": e.mef.code,
                "mef_ministry": e.mef.ministry, "school_year": e.school_year, "status": e.status,
                "start_date": e.start_date, "end_date": e.end_date, "as_of": e.occurred_at, "version": e.version,
                "establishment_city_insee": school.city_insee, "establishment_postal_code": school.postal_code}

    await _versioned(conn, sql.SCHOOLINGS, events, run, key=lambda e: (e.schooling_id,),
                     aggregate=lambda e: e.schooling_id, state=state)


async def _ribs(conn: Connection, events: list[RibRecorded], run: _Run) -> None:
    """on_rib_recorded: one current RIB per student and establishment, by version; a newer one is not archived."""
    def state(e: Any) -> Row:
        return {"student_id": e.student_id, "uai": e.establishment_uai, "rib_id": e.rib_id, "owner_type": e.owner_type,
                "holder_name": e.holder_name, "iban": e.iban, "bic": e.bic, "as_of": e.occurred_at,
                "version": e.version, "archived": False}

    await _versioned(conn, sql.RIBS, events, run, key=lambda e: (e.student_id, e.establishment_uai),
                     aggregate=lambda e: e.rib_id, state=state)


async def _caps(conn: Connection, events: list[SchoolingPriced], run: _Run) -> None:
    """on_schooling_priced: the cap of the latest (or same) occurred_at, never stale; every one flags."""
    if not events:
        return
    current = {r["schooling_id"]: r for r in await sql.held(conn, sql.CAPS, ["schooling_id", "as_of"],
                                                           [e.schooling_id for e in events])}
    read, changed = set(current), set()
    for event in events:
        row = current.get(event.schooling_id)
        if row is None or row["as_of"] <= event.occurred_at:
            current[event.schooling_id] = {"schooling_id": event.schooling_id, "as_of": event.occurred_at,
                                           "yearly_cap_cents": event.yearly_cap_cents if event.priced else None}
            changed.add(event.schooling_id)
        run.recheck.add(event.student_id)
    await sql.write(conn, sql.CAPS, [current[k] for k in changed], read)


async def _decisions(conn: Connection, events: list[Any], run: _Run) -> None:
    """on_document's DA number: the highest version wins; the version held already (a DocumentReady after its
    DocumentIssued) changes nothing, flags nothing; an older one is stale (and flags, as before). A DA held keeps
    the student it was first recorded with."""
    if not events:
        return
    current = {r["schooling_id"]: r for r in await sql.held(conn, sql.DECISIONS, ["schooling_id", "student_id",
                                                                                  "version"],
                                                           [e.schooling_id for e in events])}
    read, changed = set(current), set()
    for event in events:
        row = current.get(event.schooling_id)
        if row is not None and row["version"] == event.version:
            continue
        if row is None or row["version"] < event.version:
            current[event.schooling_id] = {"schooling_id": event.schooling_id, "number": event.number,
                                           "student_id": event.student_id if row is None else row["student_id"],
                                           "version": event.version, "issued_at": event.occurred_at}
            changed.add(event.schooling_id)
        else:
            run.drop(event.event_type, event.schooling_id, event.version)
        run.recheck.add(event.student_id)
    await sql.write(conn, sql.DECISIONS, [current[k] for k in changed], read)


async def _printed_numbers(conn: Connection, events: list[Any]) -> None:
    """_keep_pfmp_numbers: each PFMP's first announced number kept; a number announced unlike the one kept
    ('printed') or unlike one a file carried ('sent') logged, never silently."""
    if not events:
        return
    ids = [p.pfmp_id for e in events for p in e.pfmp_numbers]
    kept = {r["pfmp_id"]: r for r in await sql.held(conn, sql.PRINTED, ["pfmp_id", "number"], ids)}
    sent: dict[UUID, set[str]] = {}
    for pfmp_id, number in await sql.sent_numbers(conn, ids):
        sent.setdefault(pfmp_id, set()).add(number)
    read, new = set(kept), set()
    for event in events:
        for p in event.pfmp_numbers:
            if p.pfmp_id not in kept:
                kept[p.pfmp_id] = {"pfmp_id": p.pfmp_id, "schooling_id": event.schooling_id, "number": p.number,
                                   "document_version": event.version, "received_at": event.occurred_at}
                new.add(p.pfmp_id)
        for p in event.pfmp_numbers:
            against = ("printed" if kept[p.pfmp_id]["number"] != p.number
                       else "sent" if sent.get(p.pfmp_id, set()) - {p.number} else None)
            if against:
                # The one kept (or sent: the ASP holds the prestation under it) stays; an operator compares.
                log.warning("pfmp_number_differs", code="pfmp_number_differs", pfmp_id=str(p.pfmp_id),
                            schooling_id=str(event.schooling_id), against=against, version=event.version)
    await sql.write(conn, sql.PRINTED, [kept[k] for k in new], read)


async def _requests(conn: Connection, events: list[PaymentRequested], run: _Run) -> None:
    """on_payment_requested: a request is immutable here, its first copy inserted, any other stale."""
    if not events:
        return
    inserted = await sql.insert_requests(conn, [
        {"payment_request_id": e.payment_request_id, "pfmp_id": e.pfmp_id, "schooling_id": e.schooling_id,
         "student_id": e.student_id, "amount_cents": e.amount_cents, "day_count": e.day_count,
         "pfmp_rank": e.pfmp_rank, "requested_event_id": e.event_id, "correlation_id": e.correlation_id,
         "requested_at": e.occurred_at, "version": e.version, "rectification": e.rectification,
         "pfmp_start_date": e.pfmp_start_date} for e in events])
    for event in events:
        if event.payment_request_id in inserted:
            inserted.discard(event.payment_request_id)  # its first copy; a later one is stale
        else:
            run.drop(event.event_type, event.payment_request_id, event.version)
