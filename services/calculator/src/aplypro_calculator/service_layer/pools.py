"""Recompute whole cap pools and keep their payment requests in step (calculation.md §3.3–3.4, lifecycles §2).

Set-based: every pool of a batch is read with one query, and amounts and requests are written with one
statement each. Runs inside the caller's transaction, so state and outgoing events commit together.

A request of a validated PFMP is created `pending` with its due time (lifecycles §5). Until then it is not
evaluated and not committed: its amount follows the pool and no request event is written; if the amount
falls to 0 it is withdrawn (deleted: nothing was ever published about it), as a validated PFMP at 0 gets no
request, and created again if the amount comes back. So neither the amounts nor which PFMPs have a request
depend on the order of one day's validations. Once due, any recomputation of its pool evaluates it (the
evaluator of due requests, or any later event of the pool), together with every other due request of the
pool, against one allocation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import Envelope
from aplypro_contracts.ids import new_uuid
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import OutboxRow, event_row

from aplypro_calculator.adapters import postgres, postgres_decisions, postgres_over_cap, postgres_requests
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_requests import NewRequest, RequestChange
from aplypro_calculator.domain.decisions import DecisionReason, Span, decision_reasons
from aplypro_calculator.domain.exclusions import Exclusions
from aplypro_calculator.domain.overlaps import PAYABLE, Period, overlapped
from aplypro_calculator.domain.pool import allocate
from aplypro_calculator.domain.requests import (
    OPEN,
    PARIS,
    Cooldown,
    Evaluation,
    RequestFacts,
    awaiting_evaluation,
    due_at,
    evaluate,
    may_create,
)
from aplypro_calculator.service_layer import events
from aplypro_calculator.service_layer.events import Cause

log = structlog.get_logger(__name__)

def pool_key(row: dict[str, Any]) -> PoolKey:
    return (row["student_id"], row["mef_code"], row["school_year"])


@dataclass(frozen=True)
class PricedRow:
    row: dict[str, Any]
    amount: int | None
    steps: list[str]
    excluded: bool
    over_cap: bool
    hidden: bool = False
    committed_cents: int = 0  # the pool's Σ committed (the over-cap report)


def price_pool(rows: list[dict[str, Any]], exclusions: Exclusions) -> list[PricedRow]:
    """The pool's allocation, row by row (an unpriced MEF prices nothing and holds nothing)."""
    check = exclusions.excluded if len(exclusions) else None  # usually none: skip the per-row test
    excluded = {r["schooling_id"]: check is not None and check(r["uai"], r["mef_code"], r["school_year"])
                for r in rows}
    first = rows[0]
    if first["daily_rate_cents"] is None:
        steps = [f"unpriced: {first['unpriced_reason']}"]
        return [PricedRow(r, None, steps, excluded[r["schooling_id"]], False, r["schooling_hidden"]) for r in rows]
    pfmps = [postgres.to_pool_pfmp(r, excluded=excluded[r["schooling_id"]]) for r in rows]
    result = allocate(first["daily_rate_cents"], first["yearly_cap_cents"], pfmps)
    by_id = {str(r["pfmp_id"]): r for r in rows}
    return [PricedRow(row, a.amount_cents, a.steps, excluded[row["schooling_id"]], result.over_cap,
                      row["schooling_hidden"], result.committed_cents)
            for a in result.allocations for row in (by_id[a.pfmp_id],)]


def facts(p: PricedRow, negative_enabled: bool, overlaps: bool = False,
          decision_gates: tuple[DecisionReason, ...] = ()) -> RequestFacts:
    row = p.row
    return RequestFacts(
        pfmp_status=row["status"], deleted=row["deleted"], day_count=row["day_count"],
        start_date=row["start_date"], end_date=row["end_date"], amount_cents=p.amount,
        priced=row["daily_rate_cents"] is not None, excluded=p.excluded, pool_over_cap=p.over_cap,
        paid_base_cents=row["paid_cents"], negative_enabled=negative_enabled, overlaps=overlaps,
        decision_gates=decision_gates, hidden=p.hidden,
    )


def gates(p: PricedRow, spans: list[Span], policy: RequestPolicy) -> tuple[DecisionReason, ...]:
    """The failing DA gates of the PFMP's request (lifecycles.md §4, 13-15), "today" in Paris."""
    row = p.row
    recovery = (row["status"] == "rectified" and row["paid_cents"] is not None and p.amount is not None
                and p.amount < row["paid_cents"])
    return decision_reasons(row["schooling_id"], spans, row["start_date"], row["end_date"],
                            policy.now.astimezone(PARIS).date(), recovery=recovery)


def _period(row: dict[str, Any]) -> Period:
    return Period(row["pfmp_id"], row["student_id"], row["start_date"], row["end_date"], row["status"],
                  row["deleted"])


async def overlapped_in(conn: Connection, by_pool: dict[PoolKey, list[dict[str, Any]]]) -> set[UUID]:
    """The PFMPs of these pools that overlap a payable PFMP of their student in any pool (reason `overlaps`)."""
    rows = {r["pfmp_id"]: r for pool in by_pool.values() for r in pool}  # the newest facts, arriving included
    if not any(r["status"] in PAYABLE for r in rows.values()):
        return set()  # only validated and rectified PFMPs have requests to evaluate
    others = await postgres.payable_periods(conn, list({r["student_id"] for r in rows.values()}))
    return overlapped([*map(_period, rows.values()), *(p for p in others if p.pfmp_id not in rows)])


@dataclass
class _Writes:
    amounts: list[tuple[UUID, int | None, list[str]]] = field(default_factory=list)
    new_pfmps: list[tuple[dict[str, Any], int | None, list[str]]] = field(default_factory=list)
    inserts: list[NewRequest] = field(default_factory=list)
    withdrawn: list[UUID] = field(default_factory=list)
    changes: list[RequestChange] = field(default_factory=list)
    out: list[OutboxRow] = field(default_factory=list)
    over_cap: list[tuple[PoolKey, int, int, UUID]] = field(default_factory=list)  # pool, committed, cap, cause
    within_cap: list[PoolKey] = field(default_factory=list)


@dataclass(frozen=True)
class RequestPolicy:
    """How requests are followed in one recomputation: the §5.4 switch, the §5 cool-down and the clock."""

    now: datetime
    negative_enabled: bool = False
    cooldown: Cooldown = "next_midnight"


async def recompute_pools(conn: Connection, topic: str, causes: dict[PoolKey, Cause], policy: RequestPolicy,
                          arriving: dict[PoolKey, list[dict[str, Any]]] | None = None) -> list[OutboxRow]:
    """Reallocate whole pools; publish amounts that changed; create and re-evaluate their requests.

    `arriving` PFMPs (new, not stored yet) join their pools here and are written once, with their amount.
    """
    if not causes:
        return []
    exclusions = await postgres_requests.load_exclusions(conn)
    by_pool: dict[PoolKey, list[dict[str, Any]]] = defaultdict(list)
    for row in await postgres.pool_rows(conn, sorted(causes, key=str)):
        by_pool[pool_key(row)].append(row)
    new_ids: set[UUID] = set()
    for key, rows in (arriving or {}).items():
        by_pool[key] += rows
        new_ids.update(row["pfmp_id"] for row in rows)
    overlapping = await overlapped_in(conn, by_pool)
    spans = await postgres_decisions.student_spans(conn, [key[0] for key in by_pool])
    w = _Writes()
    for key, rows in by_pool.items():
        cause = causes[key]
        priced = price_pool(rows, exclusions)
        _check_cap(w, key, priced, cause)
        for p in priced:
            row = p.row
            changed = row["computed_at"] is None or row["amount_cents"] != p.amount  # always for a new PFMP
            if row["pfmp_id"] in new_ids:
                w.new_pfmps.append((row, p.amount, p.steps))
            elif changed:
                w.amounts.append((row["pfmp_id"], p.amount, p.steps))
            if changed:
                w.out.append(event_row(topic, key[0], events.amount_computed(row, p.amount, p.steps, cause)))
            _follow_request(w, topic, p, cause, policy, row["pfmp_id"] in overlapping, spans.get(key[0], []))
    await postgres.insert_priced_pfmps(conn, w.new_pfmps)  # before their requests (foreign key)
    await postgres.store_amounts(conn, w.amounts)
    await postgres_requests.withdraw_requests(conn, w.withdrawn)
    await postgres_requests.insert_requests(conn, w.inserts)
    await postgres_requests.change_requests(conn, w.changes)
    for student_id, mef_code, school_year in await postgres_over_cap.report(conn, w.over_cap, w.within_cap):
        # Money already handed over beyond the cap cannot be called back: an operator repairs it once paid (§5.6)
        committed, cap = next((c, k) for (key, c, k, _) in w.over_cap if key == (student_id, mef_code, school_year))
        log.warning("pool_over_cap", code="pool_over_cap", student_id=str(student_id), mef_code=mef_code,
                    school_year=school_year, committed_cents=committed, cap_cents=cap)
    return w.out


def _check_cap(w: _Writes, key: PoolKey, priced: list[PricedRow], cause: Cause) -> None:
    """A priced pool is over its cap (Σ committed > cap: reported) or within it (a report of it is resolved)."""
    if not priced or priced[0].row["daily_rate_cents"] is None:
        return
    if priced[0].over_cap:
        w.over_cap.append((key, priced[0].committed_cents, priced[0].row["yearly_cap_cents"], cause.event_id))
    else:
        w.within_cap.append(key)


def _follow_request(w: _Writes, topic: str, p: PricedRow, cause: Cause, policy: RequestPolicy,
                    overlaps: bool, spans: list[Span]) -> None:
    """Re-evaluate an open request that is due, or create the first one of a validated PFMP now worth > 0 (D10)."""
    row = p.row
    state = row["request_state"]
    version = 1  # a new request; a change is its stored version + 1 (change_requests increments it)
    if state in OPEN:
        request_id: UUID = row["payment_request_id"]
        if awaiting_evaluation(state, row["request_reasons"], row["request_due_at"], policy.now):
            if not may_create(row["status"], row["deleted"], p.amount, has_request=False):
                w.withdrawn.append(request_id)  # no longer payable before it was ever evaluated
            elif row["request_amount_cents"] != p.amount:  # not committed: its amount follows the pool
                w.changes.append(RequestChange(request_id, "pending", p.amount, ()))
            return
        verdict = evaluate(facts(p, policy.negative_enabled, overlaps, gates(p, spans, policy)))
        unchanged = verdict.state == state and verdict.reasons == tuple(row["request_reasons"])
        if unchanged and row["request_amount_cents"] == p.amount:
            return
        w.changes.append(RequestChange(request_id, verdict.state, p.amount, verdict.reasons))
        version = row["request_version"] + 1
        if unchanged:
            return  # only the (not yet frozen) amount moved: a new transition only when the reasons change
    elif may_create(row["status"], row["deleted"], p.amount, has_request=state is not None):
        request_id = new_uuid()
        due = due_at(row["validated_at"], policy.cooldown)
        if due is not None and due > policy.now:  # created now, evaluated once due
            w.inserts.append(NewRequest(request_id, row["pfmp_id"], "pending", p.amount, (), due_at=due,
                                        cause_event_id=cause.event_id, correlation_id=cause.correlation_id))
            return
        verdict = evaluate(facts(p, policy.negative_enabled, overlaps, gates(p, spans, policy)))
        w.inserts.append(NewRequest(request_id, row["pfmp_id"], verdict.state, p.amount, verdict.reasons,
                                    due_at=due, cause_event_id=cause.event_id, correlation_id=cause.correlation_id))
    else:
        return
    w.out.append(event_row(topic, row["student_id"],
                           _request_event(row, request_id, verdict, p.amount, cause, version)))


def _request_event(row: dict[str, Any], request_id: UUID, verdict: Evaluation, amount: int | None,
                   cause: Cause, version: int) -> Envelope:
    if verdict.state == "ready":
        assert amount is not None  # ready means pfmp_amount passed
        return events.payment_requested(row, request_id, amount, cause, version)
    return events.payment_request_blocked(row, request_id, verdict.reasons, verdict.parked, cause, version)
