"""The decisions consumer a batch at a time: what the per-event handlers would leave, in a few statements.

Most of the consumer's events at a national year feed the état liquidatif: a student's bank account (RibRecorded,
RibArchived), the PFMPs (PfmpRecorded, PfmpRectified, PfmpValidated) and the payment requests (PaymentRequested,
which queues the schooling's état liquidatif). These are folded: the rows the batch touches read once (locked),
the events applied to them in batch order with exactly projection.py's rules (the version rule, version 0 after
version 0, by recording time for bank accounts; a validation date kept once known; the first payment request of
an id kept), the changed rows written back in one statement a table, the états liquidatifs queued in one, the
stale counters in one.

The import's events, the students' and schoolings' states (StudentRegistered, StudentIdentityChanged,
StudentAddressChanged, SchoolingOpened, SchoolingChanged, SchoolingClosed, SchoolingReopened), and the calculator's
barèmes (SchoolingPriced) are folded apart, by state_batch.py: a stretch of them is applied at once (students and
schoolings read locked, with the decision state of the schoolings whose abrogations are reviewed; the events
applied in order; each table written once: students, schoolings, barèmes, the DAs queued, the abrogations queued
and dropped). These read and write what the per-event handlers left read and write: a schooling's decision state
(its barème, its queued DA or abrogation or retrait, whether it is hidden) and the students and schoolings. So a
stretch ends, and is written, before any per-event handler (SchoolingHiddenChanged, DecisionIssueRequested,
DecisionAbrogationRequested, DecisionWithdrawalRequested, LiquidationIssueRequested): that handler sees the
batch's state events that came before it, and the stretch after it reads what it wrote.

The two folds touch disjoint rows (bank accounts, PFMPs, payment requests and the queued états liquidatifs; the
students, schoolings, barèmes and the queued DAs and abrogations), and the stale counters only add up, so either
may be written first. A LiquidationIssueRequested reads the payment requests and PFMPs and queues an état
liquidatif: the liquidation fold is written before it too, so it sees the batch's events that came before it; no
other per-event handler reads what that fold writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import (
    PaymentRequested,
    PfmpRecorded,
    PfmpRectified,
    PfmpValidated,
    RibArchived,
    RibRecorded,
)
from aplypro_servicekit.consumer import BatchHandler, EventHandler
from aplypro_servicekit.db import Connection

from aplypro_documents.adapters import postgres_liquidation_batch as sql
from aplypro_documents.adapters.postgres_batch_rows import Row
from aplypro_documents.service_layer import state_batch
from aplypro_documents.service_layer.content import PARIS, paris_today

log = structlog.get_logger(__name__)
FOLDED = frozenset({"RibRecorded", "RibArchived", "PfmpRecorded", "PfmpRectified", "PfmpValidated",
                    "PaymentRequested"})
# Read what the fold writes: the fold is written before them (and read again after).
BARRIERS = frozenset({"LiquidationIssueRequested"})


def batch_handler(handlers: dict[str, EventHandler], *, clock: Callable[[], date] = paris_today,
                  fold_states: bool = True) -> BatchHandler:
    """The consumer's batch handler; `handlers` (the per-event ones) apply the events the folds leave. `clock`:
    the day an abrogation review takes (projection's). `fold_states=False` leaves the student and schooling state
    events to their per-event handlers, as before issue 12's second fold (the bench's `before`)."""
    states = state_batch.FOLDED if fold_states else frozenset({"SchoolingPriced"})

    async def apply(conn: Connection, events: list[Any]) -> None:
        folded: list[Any] = []
        stretch: list[Any] = []
        for event in events:
            if event.event_type in FOLDED:
                folded.append(event)
                continue
            if event.event_type in states:
                stretch.append(event)
                continue
            await state_batch.fold(conn, stretch, clock())  # every per-event handler may read what it writes
            stretch = []
            if event.event_type in BARRIERS:
                await fold(conn, folded)
                folded = []
            await handlers[event.event_type](conn, event)
        await state_batch.fold(conn, stretch, clock())
        await fold(conn, folded)

    return apply


async def fold(conn: Connection, events: list[Any]) -> None:
    stale: Counter[str] = Counter()
    ribs = [e for e in events if isinstance(e, RibRecorded | RibArchived)]
    pfmps = [e for e in events if isinstance(e, PfmpRecorded | PfmpRectified | PfmpValidated)]
    requests = [e for e in events if isinstance(e, PaymentRequested)]
    if len(ribs) + len(pfmps) + len(requests) != len(events):  # a model the fold does not know: never dropped
        raise TypeError("an event of a folded type is not of its current model")  # the batch replays per event
    if ribs:
        await _ribs(conn, ribs, stale)
    if pfmps:
        await _pfmps(conn, pfmps, stale)
    if requests:
        await _payment_requests(conn, requests)
    await sql.count_stale(conn, stale)


def _stale(stale: Counter[str], event_type: str, aggregate_id: UUID, version: int) -> None:
    """projection._stale's count (written once for the batch) and its log line, without personal data."""
    stale[event_type] += 1
    log.info("stale_event_dropped", event_type=event_type, aggregate_id=str(aggregate_id), version=version)


async def _ribs(conn: Connection, events: list[RibRecorded | RibArchived], stale: Counter[str]) -> None:
    keys = list({(e.student_id, e.establishment_uai) for e in events if isinstance(e, RibRecorded)})
    archived = list({e.rib_id for e in events if isinstance(e, RibArchived)})
    held = {(r["student_id"], r["establishment_uai"]): r for r in await sql.ribs_for_update(conn, keys, archived)}
    read = set(held)  # locked: written back by UPDATE; any other key is inserted, and must still be absent
    changed: set[tuple[UUID, str]] = set()
    for event in events:
        if isinstance(event, RibRecorded):
            key = (event.student_id, event.establishment_uai)
            row = held.get(key)
            # upsert_rib's rule: newer, or unversioned after unversioned and recorded no earlier.
            if row is None or row["version"] < event.version or (
                    event.version == 0 and row["version"] == 0 and row["recorded_at"] <= event.occurred_at):
                held[key] = {**event.model_dump(include=set(sql.RIB_COLUMNS)), "recorded_at": event.occurred_at,
                             "archived": False}
                changed.add(key)
            else:
                _stale(stale, event.event_type, event.rib_id, event.version)
        else:
            # archive_rib: wherever held (a merged student's too), unless a newer RIB replaced it.
            hits = [key for key, row in held.items()
                    if row["rib_id"] == event.rib_id and row["version"] <= event.version and not row["archived"]]
            for key in hits:
                held[key] = {**held[key], "archived": True}
                changed.add(key)
            if not hits:
                _stale(stale, event.event_type, event.rib_id, event.version)
    await sql.write_ribs(conn, [held[key] for key in changed], read)


async def _pfmps(conn: Connection, events: list[PfmpRecorded | PfmpRectified | PfmpValidated],
                 stale: Counter[str]) -> None:
    held = {r["pfmp_id"]: r for r in await sql.pfmps_for_update(conn, list({e.pfmp.pfmp_id for e in events}))}
    read = set(held)  # locked: written back by UPDATE; any other PFMP is inserted, and must still be absent
    changed: set[UUID] = set()
    for event in events:
        pfmp = event.pfmp
        validated_on = event.occurred_at.astimezone(PARIS).date() if isinstance(event, PfmpValidated) else None
        row = held.get(pfmp.pfmp_id)
        state: Row = {**pfmp.model_dump(include=set(sql.PFMP_COLUMNS)), "validated_on": validated_on}
        if row is None:
            held[pfmp.pfmp_id] = state
        elif row["version"] < pfmp.version or (pfmp.version == 0 and row["version"] == 0):  # newer_than
            # The schooling and student it was first recorded with stay; a validation date, once known, too.
            held[pfmp.pfmp_id] = {**state, "schooling_id": row["schooling_id"], "student_id": row["student_id"],
                                  "validated_on": row["validated_on"] or validated_on}
        else:
            _stale(stale, event.event_type, pfmp.pfmp_id, pfmp.version)
            continue
        changed.add(pfmp.pfmp_id)
    await sql.write_pfmps(conn, [held[pfmp_id] for pfmp_id in changed], read)


async def _payment_requests(conn: Connection, events: list[PaymentRequested]) -> None:
    first: dict[UUID, Row] = {}
    for event in events:
        first.setdefault(event.payment_request_id, {**event.model_dump(include=set(sql.REQUEST_COLUMNS)),
                                                    "requested_at": event.occurred_at})
    await sql.insert_payment_requests(conn, list(first.values()))
    await sql.enqueue_liquidations(conn, list(dict.fromkeys(e.schooling_id for e in events)))
