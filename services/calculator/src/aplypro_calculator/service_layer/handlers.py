"""Handlers of the calculator: price schoolings, record PFMPs and rectifications, follow ASP returns.

Set-based: a whole Kafka batch is applied with a handful of statements. A single event is a batch of
one (the consumer's fallback when a batch breaks a rule). Everything runs inside the consumer's
transaction, so state, inbox rows and outgoing events commit together.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from aplypro_contracts import (
    DocumentIssued,
    DocumentReady,
    Envelope,
    ExclusionChanged,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestsMoved,
    PaymentRequestStateChanged,
    PfmpRecorded,
    PfmpRectified,
    PfmpValidated,
    SchoolingExtended,
    SchoolingHiddenChanged,
    SchoolingPriced,
    SchoolingState,
    StudentsMerged,
    StudentState,
    with_parts,
)
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox

from aplypro_calculator.adapters import (
    cross_student_lock,
    postgres,
    postgres_decisions,
    postgres_held,
    postgres_merges,
)
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_stale import count_stale, is_newer
from aplypro_calculator.domain.bareme import MefRow, Priced, load_bareme
from aplypro_calculator.domain.requests import Cooldown
from aplypro_calculator.service_layer.asp_returns import apply_asp_returns
from aplypro_calculator.service_layer.decisions import apply_decisions
from aplypro_calculator.service_layer.events import PRODUCER, Cause
from aplypro_calculator.service_layer.exclusion_events import apply_exclusion_changes
from aplypro_calculator.service_layer.hiding import apply_hidden
from aplypro_calculator.service_layer.merges import apply_merges
from aplypro_calculator.service_layer.pools import RequestPolicy, pool_key, recompute_pools
from aplypro_calculator.service_layer.rectifications import rectify_pfmp
from aplypro_calculator.service_layer.reports import apply_reports
from aplypro_calculator.service_layer.retries import RETRY_EVENTS, RetryEvent, retry_payments

log = structlog.get_logger(__name__)
E = TypeVar("E", bound=Envelope)


def priced_state(event: SchoolingState) -> dict[str, Any]:
    """The schooling as the calculator stores it, with the barème of its MEF and year."""
    mef = event.mef
    row = MefRow.from_bcn({  # the same normalisation as the BCN file (calculation.md §2.2)
        "MEF": mef.code, "DISPOSITIF_FORMATION": mef.dispositif, "FORMATION_DIPLOME": mef.diploma,
        "DUREE_DISPOSITIF": str(mef.duration or ""), "ANNEE_DISPOSITIF": str(mef.year or ""),
        "LIBELLE_LONG": mef.label, "MINISTERE": mef.ministry,
    })
    price = load_bareme().price(row, event.school_year)
    priced = isinstance(price, Priced)
    return {
        "schooling_id": event.schooling_id, "student_id": event.student_id, "uai": event.establishment.uai,
        "school_year": event.school_year, "mef_code": mef.code, "mef": json.dumps(mef.model_dump()),
        "status": event.status,
        "daily_rate_cents": price.daily_rate_cents if isinstance(price, Priced) else None,
        "yearly_cap_cents": price.yearly_cap_cents if isinstance(price, Priced) else None,
        "legal_reference": price.legal_reference if isinstance(price, Priced) else None,
        "unpriced_reason": None if priced else getattr(price, "reason", None),
        "version": event.version, "start_date": event.start_date, "end_date": event.end_date,
    }


def _pricing(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["daily_rate_cents"], row["yearly_cap_cents"], row["legal_reference"], row["unpriced_reason"],
            row["school_year"])


def _read(row: dict[str, Any]) -> tuple[Any, ...]:
    """Everything the calculator reads of a schooling, its version aside: the pool (student, MEF, year), the
    barème, the status, the dates (gates), and of the establishment only the UAI (exclusions, a RIB's retries).
    The establishment's name, address, director, city code or contract type (its BOP) move no amount."""
    mef = row["mef"]
    return (row["student_id"], row["uai"], row["mef_code"], json.loads(mef) if isinstance(mef, str) else mef,
            row["status"], row["start_date"], row["end_date"], *_pricing(row))


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Handlers:
    """Bound to the topic they publish to (namespaced by settings), the §5.4 switch and the §5 cool-down."""

    topic: str
    negative_rectifications_enabled: bool = False
    evaluation_cooldown: Cooldown = "next_midnight"
    clock: Callable[[], datetime] = field(default=utc_now)  # what "now" is, for due requests

    async def on_event(self, conn: Connection, event: Envelope) -> None:
        await self.on_batch(conn, [event])

    async def on_moves(self, conn: Connection, event: PaymentRequestsMoved) -> None:
        """A group of the gateway's moves on the fallback path: its parts, in order, each as its single event would
        be. The consumer gives the group one savepoint: a part that breaks a rule dead-letters the group whole, with
        that part's reason."""
        for part in event.parts():
            await self.on_event(conn, part)

    async def on_batch(self, conn: Connection, events: list[Envelope]) -> None:
        # Décisions d'attribution first: they come from another topic, so their place in the batch means
        # nothing, and every evaluation of the batch then sees the newest DA state (a retrait read in the
        # same batch as a validation blocks it). ASP returns next: a rectification needs the `paid` it
        # follows. Then students and PFMP events, in batch order: a run of facts is applied set-based, a
        # rectification alone, each run ending with its pools.
        # Student merges first: what the calculator holds moves to the survivor and its pools are recomputed
        # under one cap; then any event still carrying a merged student's id is read as the survivor's.
        # The gateway's groups as the single events they stand for, where they stand: every rule below (versions,
        # stale drops, a return's order in the batch) then holds per request exactly as for the single events.
        events = with_parts(events)
        await cross_student_lock.lock(conn, change=any(isinstance(e, ExclusionChanged | StudentsMerged)
                                                       for e in events))
        out: list[OutboxRow] = []
        merges = [e for e in events if isinstance(e, StudentsMerged)]
        if merges:
            causes: dict[PoolKey, Cause] = {}
            await apply_merges(conn, merges, causes)
            out += await self.recompute_pools(conn, causes)
        events = await _repointed(conn, [e for e in events if not isinstance(e, StudentsMerged)])
        decisions = [e for e in events if isinstance(e, DocumentIssued | DocumentReady)]
        reports = [e for e in events if isinstance(e, SchoolingExtended)]
        hidings = [e for e in events if isinstance(e, SchoolingHiddenChanged)]
        returns = [e for e in events if isinstance(e, PaymentRequestStateChanged | PaymentRequestSent)]
        causes = {}
        exclusions = [e for e in events if isinstance(e, ExclusionChanged)]
        if exclusions:  # like a DA: an exclusion read with a validation keeps it from being paid
            await apply_exclusion_changes(conn, exclusions, causes)
        if decisions:
            await apply_decisions(conn, decisions, causes)
        if reports:  # like a DA: a report read with a validation is seen by its evaluation
            await apply_reports(conn, reports, causes)
        if hidings:  # likewise: a validation read with a hiding is never evaluated without it
            await apply_hidden(conn, hidings, causes)
        if returns:
            await apply_asp_returns(conn, returns, causes)
        if causes:
            out += await self.recompute_pools(conn, causes)
        held = [e for e in events if isinstance(e, PaymentRequestHeld)]
        if held:  # the gateway's reasons, for explain and status only: no state or amount changes
            await postgres_held.record_held(conn, held)
        apart = (PaymentRequestStateChanged | PaymentRequestSent | StudentState | DocumentIssued
                 | DocumentReady | PaymentRequestHeld | SchoolingExtended | SchoolingHiddenChanged | ExclusionChanged)
        for run in _runs([e for e in events if not isinstance(e, apart)]):
            causes = {}
            arriving: dict[PoolKey, list[dict[str, Any]]] = {}
            if isinstance(run[0], PfmpRectified):
                out += await rectify_pfmp(conn, self.topic, run[0], causes,
                                          negative_enabled=self.negative_rectifications_enabled)
            elif isinstance(run[0], RETRY_EVENTS):
                await retry_payments(conn, [e for e in run if isinstance(e, RETRY_EVENTS)], causes)
            else:
                out += await self._apply_facts(conn, run, causes, arriving)
            out += await self.recompute_pools(conn, causes, arriving=arriving)
        # Identities last, as one set: only an address change matters here (it retries a recognised
        # rejection), and keeping them out of the runs keeps the students' schooling events in one run.
        identities: list[RetryEvent] = [e for e in events if isinstance(e, StudentState)]
        if identities:
            causes = {}
            await retry_payments(conn, identities, causes)
            out += await self.recompute_pools(conn, causes)
        await write_outbox(conn, out)

    async def _apply_facts(self, conn: Connection, events: list[Envelope], causes: dict[PoolKey, Cause],
                           arriving: dict[PoolKey, list[dict[str, Any]]]) -> list[OutboxRow]:
        # Within a run the newest event of an aggregate wins; any other one of it is stale (dropped, counted).
        dropped: Counter[str] = Counter()
        # SchoolingOpened, Changed, Closed, Reopened: one version sequence per schooling, the full state in each
        schoolings = _newest((e for e in events if isinstance(e, SchoolingState)),
                             lambda e: (e.schooling_id, e.version), dropped)
        pfmps = _newest((e for e in events if isinstance(e, PfmpRecorded | PfmpValidated)),
                        lambda e: (e.pfmp.pfmp_id, e.pfmp.version), dropped)
        validated_at: dict[Any, datetime] = {}  # the first validation of the run starts the cool-down
        for e in events:
            if isinstance(e, PfmpValidated):
                validated_at.setdefault(e.pfmp.pfmp_id, e.occurred_at)
        out: list[OutboxRow] = []
        if schoolings:
            out += await self._price_schoolings(conn, list(schoolings.values()), causes, dropped)
        stored = await postgres.stored_pfmps(conn, list(pfmps)) if pfmps else {}
        for pfmp_id, event in list(pfmps.items()):
            if not is_newer(event.pfmp.version, stored.get(pfmp_id)):
                dropped[event.event_type] += 1  # an older (or replayed) state: never applied over a newer one
                del pfmps[pfmp_id]
        await count_stale(conn, dropped)
        if pfmps:
            # Flat, straight from the model's fields (no model_dump, nor dict(model)'s field-by-field iteration).
            facts = {pfmp_id: {**e.pfmp.__dict__, "validated_at": validated_at.get(pfmp_id)}
                     for pfmp_id, e in pfmps.items()}
            known = await postgres.get_schoolings(conn, list({e.pfmp.schooling_id for e in pfmps.values()}))
            store_now = []
            for pfmp_id, event in pfmps.items():
                schooling = known.get(event.pfmp.schooling_id)
                if schooling is None or pfmp_id in stored:
                    store_now.append(facts[pfmp_id])  # else priced when its schooling arrives (another topic)
                else:  # a new PFMP of a known pool: written once, with its amount, by the recomputation
                    arriving.setdefault(pool_key(schooling), []).append(
                        postgres.arriving_pool_row(facts[pfmp_id], schooling))
                if schooling is not None:
                    causes[pool_key(schooling)] = Cause.of(event)
            await postgres.upsert_pfmps(conn, store_now)
            # A PFMP may start or stop overlapping one of another pool of its student (reason `overlaps`):
            # that pool's open requests are evaluated again. Rare (a student with several schoolings).
            by_student = {e.pfmp.student_id: e for e in pfmps.values()}
            for key in await postgres.pools_with_open_requests(conn, list(by_student)):
                causes.setdefault(key, Cause.of(by_student[key[0]]))
        return out

    async def _price_schoolings(self, conn: Connection, events: list[SchoolingState],
                                causes: dict[PoolKey, Cause], dropped: Counter[str]) -> list[OutboxRow]:
        before = await postgres.get_schoolings(conn, [e.schooling_id for e in events])
        fresh = [e for e in events if is_newer(e.version, before[e.schooling_id]["version"] if e.schooling_id in before
                                               else None)]
        dropped["SchoolingOpened"] += len(events) - len(fresh)
        events = fresh
        if not events:
            return []
        states = [priced_state(e) for e in events]
        await postgres.upsert_schoolings(conn, states)
        await postgres_decisions.store_schooling_dates(conn, states)
        out = []
        unchanged = 0
        for event, state in zip(events, states, strict=True):
            old = before.get(event.schooling_id)
            if old is not None and _read(old) == _read(state):
                # Stored (its version: an older event stays stale), nothing to re-price: an establishment's
                # re-published schoolings (SchoolingChanged `establishment`) recompute no pool, send no event.
                unchanged += 1
                continue
            if old is None or _pricing(old) != _pricing(state):
                out.append(event_row(self.topic, event.student_id, SchoolingPriced(
                    producer=PRODUCER, correlation_id=event.correlation_id, causation_id=event.event_id,
                    schooling_id=event.schooling_id, student_id=event.student_id, school_year=event.school_year,
                    priced=state["daily_rate_cents"] is not None, daily_rate_cents=state["daily_rate_cents"],
                    yearly_cap_cents=state["yearly_cap_cents"], legal_reference=state["legal_reference"],
                    unpriced_reason=state["unpriced_reason"])))
            # A new MEF or year moves the schooling's PFMPs to another pool: recompute old and new.
            causes[pool_key(state)] = Cause.of(event)
            if old is not None:
                causes[pool_key(old)] = Cause.of(event)
        if unchanged:
            log.info("schoolings_unchanged_for_pricing", count=unchanged)
        return out

    def policy(self, now: datetime | None = None) -> RequestPolicy:
        return RequestPolicy(now=now or self.clock(), negative_enabled=self.negative_rectifications_enabled,
                             cooldown=self.evaluation_cooldown)

    async def recompute_pools(self, conn: Connection, causes: dict[PoolKey, Cause], *,
                              now: datetime | None = None,
                              arriving: dict[PoolKey, list[dict[str, Any]]] | None = None) -> list[OutboxRow]:
        """Reallocate whole pools; publish only amounts that changed; create and evaluate due requests."""
        return await recompute_pools(conn, self.topic, causes, self.policy(now), arriving)


async def _repointed(conn: Connection, events: list[Envelope]) -> list[Envelope]:
    """The events with a merged student's id (read after its StudentsMerged) as the survivor's."""
    def student_of(e: Envelope) -> Any:
        pfmp = getattr(e, "pfmp", None)
        return pfmp.student_id if pfmp is not None else getattr(e, "student_id", None)

    survivors = await postgres_merges.survivors(conn, [s for e in events if (s := student_of(e)) is not None])
    if not survivors:
        return events
    out: list[Envelope] = []
    for e in events:
        survivor = survivors.get(student_of(e))
        if survivor is None:
            out.append(e)
        elif isinstance(e, PfmpRecorded | PfmpValidated | PfmpRectified):
            out.append(e.model_copy(update={"pfmp": e.pfmp.model_copy(update={"student_id": survivor})}))
        else:
            out.append(e.model_copy(update={"student_id": survivor}))
    return out


def _newest(events: Iterable[E], identity: Callable[[E], tuple[Any, int]], dropped: Counter[str]) -> dict[Any, E]:
    """The newest event of each aggregate in a run (ties: the later one); the others are counted as dropped."""
    newest: dict[Any, E] = {}
    for event in events:
        key, version = identity(event)
        held = newest.get(key)
        if held is not None:
            keep_new = is_newer(version, identity(held)[1])
            dropped[(held if keep_new else event).event_type] += 1
            if not keep_new:
                continue
        newest[key] = event
    return newest


def _kind(event: Envelope) -> str:
    if isinstance(event, PfmpRectified):
        return "rectification"
    return "retries" if isinstance(event, RETRY_EVENTS) else "facts"


def _runs(events: list[Envelope]) -> list[list[Envelope]]:
    """Consecutive facts together, consecutive retries together; each rectification alone (each reads the
    pool the events before it left)."""
    runs: list[list[Envelope]] = []
    for event in events:
        kind = _kind(event)
        if kind == "rectification" or not runs or _kind(runs[-1][0]) != kind:
            runs.append([event])
        else:
            runs[-1].append(event)
    return runs
