"""Use cases of the calculator: price schoolings, recompute cap pools, create payment requests.

Set-based: a whole Kafka batch is applied with a handful of statements. A single event is a batch of
one (the consumer's fallback when a batch breaks a rule). Everything runs inside the consumer's
transaction, so state, inbox rows and outgoing events commit together.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aplypro_contracts import (
    AmountComputed,
    Envelope,
    PaymentRequested,
    PfmpRecorded,
    PfmpValidated,
    SchoolingOpened,
    SchoolingPriced,
)
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox

from aplypro_calculator.adapters import postgres
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.domain.bareme import MefRow, Priced, load_bareme
from aplypro_calculator.domain.pool import allocate

PRODUCER = "calculator"


def priced_state(event: SchoolingOpened) -> dict[str, Any]:
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
    }


def _pricing(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["daily_rate_cents"], row["yearly_cap_cents"], row["legal_reference"], row["unpriced_reason"],
            row["school_year"])


def _pool_key(row: dict[str, Any]) -> PoolKey:
    return (row["student_id"], row["mef_code"], row["school_year"])


@dataclass(frozen=True)
class Handlers:
    """Bound to the topic they publish to (namespaced by settings)."""

    topic: str

    async def on_event(self, conn: Connection, event: Envelope) -> None:
        await self.on_batch(conn, [event])

    async def on_batch(self, conn: Connection, events: list[Envelope]) -> None:
        # Within a batch the last event of an aggregate wins: events of one key arrive in order.
        schoolings = {e.schooling_id: e for e in events if isinstance(e, SchoolingOpened)}
        pfmps = {e.pfmp.pfmp_id: e for e in events if isinstance(e, PfmpRecorded | PfmpValidated)}
        out: list[OutboxRow] = []
        causes: dict[PoolKey, UUID] = {}
        if schoolings:
            out += await self._price_schoolings(conn, list(schoolings.values()), causes)
        if pfmps:
            await postgres.upsert_pfmps(conn, [e.pfmp.model_dump() for e in pfmps.values()])
            known = await postgres.get_schoolings(conn, list({e.pfmp.schooling_id for e in pfmps.values()}))
            for event in pfmps.values():
                schooling = known.get(event.pfmp.schooling_id)
                if schooling is not None:  # else priced when its schooling arrives (another topic)
                    causes[_pool_key(schooling)] = event.event_id
        out += await self.recompute_pools(conn, causes)
        await write_outbox(conn, out)

    async def _price_schoolings(self, conn: Connection, events: list[SchoolingOpened],
                                causes: dict[PoolKey, UUID]) -> list[OutboxRow]:
        before = await postgres.get_schoolings(conn, [e.schooling_id for e in events])
        states = [priced_state(e) for e in events]
        await postgres.upsert_schoolings(conn, states)
        out = []
        for event, state in zip(events, states, strict=True):
            old = before.get(event.schooling_id)
            if old is None or _pricing(old) != _pricing(state):
                out.append(event_row(self.topic, event.student_id, SchoolingPriced(
                    producer=PRODUCER, correlation_id=event.correlation_id, causation_id=event.event_id,
                    schooling_id=event.schooling_id, student_id=event.student_id, school_year=event.school_year,
                    priced=state["daily_rate_cents"] is not None, daily_rate_cents=state["daily_rate_cents"],
                    yearly_cap_cents=state["yearly_cap_cents"], legal_reference=state["legal_reference"],
                    unpriced_reason=state["unpriced_reason"])))
            # A new MEF or year moves the schooling's PFMPs to another pool: recompute old and new.
            causes[_pool_key(state)] = event.event_id
            if old is not None:
                causes[_pool_key(old)] = event.event_id
        return out

    async def recompute_pools(self, conn: Connection, causes: dict[PoolKey, UUID]) -> list[OutboxRow]:
        """Reallocate whole pools; publish only amounts that changed; create due payment requests."""
        if not causes:
            return []
        by_pool: dict[PoolKey, list[dict[str, Any]]] = defaultdict(list)
        for row in await postgres.pool_rows(conn, sorted(causes, key=str)):
            by_pool[_pool_key(row)].append(row)
        amounts: list[tuple[UUID, int | None, list[str]]] = []
        requests: list[tuple[UUID, UUID, int]] = []
        out: list[OutboxRow] = []
        for key, rows in by_pool.items():
            cause = causes[key]
            for row, amount, steps in _allocate(rows):
                if row["computed_at"] is None or row["amount_cents"] != amount:
                    amounts.append((row["pfmp_id"], amount, steps))
                    out.append(event_row(self.topic, key[0], _amount_event(row, amount, steps, cause)))
                if row["status"] == "validated" and row["payment_request_id"] is None and amount:
                    request_id = uuid.uuid4()
                    requests.append((request_id, row["pfmp_id"], amount))
                    out.append(event_row(self.topic, key[0], PaymentRequested(
                        producer=PRODUCER, causation_id=cause, payment_request_id=request_id,
                        pfmp_id=row["pfmp_id"], schooling_id=row["schooling_id"], student_id=key[0],
                        amount_cents=amount, day_count=row["day_count"], pfmp_rank=row["rank"])))
        await postgres.store_amounts(conn, amounts)
        await postgres.insert_requests(conn, requests)
        return out


def _allocate(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int | None, list[str]]]:
    first = rows[0]
    if first["daily_rate_cents"] is None:
        return [(r, None, [f"unpriced: {first['unpriced_reason']}"]) for r in rows]
    result = allocate(first["daily_rate_cents"], first["yearly_cap_cents"], [postgres.to_pool_pfmp(r) for r in rows])
    by_id = {str(r["pfmp_id"]): r for r in rows}
    return [(by_id[a.pfmp_id], a.amount_cents, list(a.steps)) for a in result.allocations]


def _amount_event(row: dict[str, Any], amount: int | None, steps: list[str], cause: UUID) -> AmountComputed:
    return AmountComputed(
        producer=PRODUCER, causation_id=cause, pfmp_id=row["pfmp_id"], schooling_id=row["schooling_id"],
        student_id=row["student_id"], school_year=row["school_year"], mef_code=row["mef_code"],
        day_count=row["day_count"], amount_cents=amount, daily_rate_cents=row["daily_rate_cents"],
        yearly_cap_cents=row["yearly_cap_cents"], legal_reference=row["legal_reference"],
        explanation=tuple(steps),
    )
