"""The decisions consumer a batch at a time: what the per-event handlers would leave, the liquidation inputs in a
few statements.

Most of the consumer's events at a national year feed the état liquidatif: a student's bank account (RibRecorded,
RibArchived), the PFMPs (PfmpRecorded, PfmpRectified, PfmpValidated) and the payment requests (PaymentRequested,
which queues the schooling's état liquidatif). These are folded: the rows the batch touches read once (locked),
the events applied to them in batch order with exactly projection.py's rules (the version rule, version 0 after
version 0, by recording time for bank accounts; a validation date kept once known; the first payment request of
an id kept), the changed rows written back in one statement a table, the états liquidatifs queued in one, the
stale counters in one.

The calculator's barèmes (SchoolingPriced) come in long runs: a run of them is applied at once (the last barème of
each schooling written, a DA queued for each one priced, as the per-event handler queues it: between two
barèmes nothing else changes what that queueing reads, the issued DAs and the hidden schoolings), and written
before any other per-event handler runs, since those read the barème (a schooling's decision state) or the
queued DAs.

The other events keep their per-event handlers, applied in batch order as they come. The student, schooling,
hidden-schooling and director-command handlers (DecisionIssueRequested, DecisionAbrogationRequested,
DecisionWithdrawalRequested) neither read nor write what the fold does (ribs, pfmps, payment_requests, the
queued états liquidatifs; the stale counters only add up), so whether they run before or after the fold's writes
cannot change either outcome. A LiquidationIssueRequested reads the payment requests and PFMPs and queues an état
liquidatif: the fold is written before it, so it sees the batch's events that came before it.
"""

from __future__ import annotations

from collections import Counter
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
    SchoolingPriced,
)
from aplypro_servicekit.consumer import BatchHandler, EventHandler
from aplypro_servicekit.db import Connection

from aplypro_documents.adapters import postgres
from aplypro_documents.adapters import postgres_liquidation_batch as sql
from aplypro_documents.adapters.postgres_liquidation_batch import Row
from aplypro_documents.service_layer.content import PARIS

log = structlog.get_logger(__name__)
FOLDED = frozenset({"RibRecorded", "RibArchived", "PfmpRecorded", "PfmpRectified", "PfmpValidated",
                    "PaymentRequested"})
# Read what the fold writes: the fold is written before them (and read again after).
BARRIERS = frozenset({"LiquidationIssueRequested"})


def batch_handler(handlers: dict[str, EventHandler]) -> BatchHandler:
    """The consumer's batch handler; `handlers` (the per-event ones) apply the events the fold leaves."""

    async def apply(conn: Connection, events: list[Any]) -> None:
        folded: list[Any] = []
        priced: list[SchoolingPriced] = []
        for event in events:
            if event.event_type in FOLDED:
                folded.append(event)
                continue
            if isinstance(event, SchoolingPriced):
                priced.append(event)
                continue
            await pricings(conn, priced)  # every per-event handler may read the barème or the queued DAs
            priced = []
            if event.event_type in BARRIERS:
                await fold(conn, folded)
                folded = []
            await handlers[event.event_type](conn, event)
        await pricings(conn, priced)
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


async def pricings(conn: Connection, events: list[SchoolingPriced]) -> None:
    """projection.on_schooling_priced for a run of barèmes with nothing else between them."""
    if not events:
        return
    last = {e.schooling_id: (e.schooling_id, e.priced, e.daily_rate_cents, e.yearly_cap_cents) for e in events}
    await sql.set_pricings(conn, list(last.values()))
    await postgres.enqueue_attribution(conn, list(dict.fromkeys(e.schooling_id for e in events if e.priced)))


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
