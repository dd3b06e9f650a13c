"""Use cases of the calculator: price schoolings, recompute a pool, create payment requests.

Every handler runs inside the consumer's transaction: state, inbox row and outgoing events commit together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aplypro_contracts import AmountComputed, PaymentRequested, PfmpRecorded, PfmpValidated, SchoolingOpened
from aplypro_contracts import SchoolingPriced as SchoolingPricedEvent
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox

from aplypro_calculator.adapters import postgres
from aplypro_calculator.domain.bareme import MefRow, Priced, load_bareme
from aplypro_calculator.domain.pool import allocate

PRODUCER = "calculator"


@dataclass(frozen=True)
class Handlers:
    """Handlers bound to the topic they publish to (namespaced by settings)."""

    topic: str

    async def on_schooling_opened(self, conn: Connection, event: SchoolingOpened) -> None:
        mef = event.mef
        row = MefRow.from_bcn({  # the same normalisation as the BCN file (calculation.md §2.2)
            "MEF": mef.code, "DISPOSITIF_FORMATION": mef.dispositif, "FORMATION_DIPLOME": mef.diploma,
            "DUREE_DISPOSITIF": str(mef.duration or ""), "ANNEE_DISPOSITIF": str(mef.year or ""),
            "LIBELLE_LONG": mef.label, "MINISTERE": mef.ministry,
        })
        price = load_bareme().price(row, event.school_year)
        priced = isinstance(price, Priced)
        before = await postgres.get_schooling(conn, event.schooling_id)
        state = {
            "schooling_id": event.schooling_id, "student_id": event.student_id,
            "uai": event.establishment.uai, "school_year": event.school_year, "mef_code": mef.code,
            "mef": mef.model_dump(), "status": event.status,
            "daily_rate_cents": price.daily_rate_cents if isinstance(price, Priced) else None,
            "yearly_cap_cents": price.yearly_cap_cents if isinstance(price, Priced) else None,
            "legal_reference": price.legal_reference if isinstance(price, Priced) else None,
            "unpriced_reason": None if isinstance(price, Priced) else price.reason,
        }
        await postgres.upsert_schooling(conn, state)
        rows: list[OutboxRow] = []
        if before is None or _pricing(before) != _pricing(state):
            rows.append(event_row(self.topic, event.student_id, SchoolingPricedEvent(
                producer=PRODUCER, correlation_id=event.correlation_id, causation_id=event.event_id,
                schooling_id=event.schooling_id, student_id=event.student_id, school_year=event.school_year,
                priced=priced, daily_rate_cents=state["daily_rate_cents"],
                yearly_cap_cents=state["yearly_cap_cents"], legal_reference=state["legal_reference"],
                unpriced_reason=state["unpriced_reason"],
            )))
        # The MEF or year may have moved the schooling's PFMPs to another pool: recompute old and new.
        pools = {(event.student_id, mef.code, event.school_year)}
        if before is not None:
            pools.add((before["student_id"], before["mef_code"], before["school_year"]))
        for pool in sorted(pools, key=str):
            rows += await self.recompute_pool(conn, *pool, cause=event.event_id)
        await write_outbox(conn, rows)

    async def on_pfmp_event(self, conn: Connection, event: PfmpRecorded | PfmpValidated) -> None:
        pfmp = event.pfmp
        await postgres.upsert_pfmp(conn, pfmp.model_dump())
        schooling = await postgres.get_schooling(conn, pfmp.schooling_id)
        if schooling is None:
            return  # priced when its schooling arrives (another topic, so possibly later)
        rows = await self.recompute_pool(conn, schooling["student_id"], schooling["mef_code"],
                                         schooling["school_year"], cause=event.event_id)
        await write_outbox(conn, rows)

    async def recompute_pool(self, conn: Connection, student_id: UUID, mef_code: str, school_year: int,
                             *, cause: UUID) -> list[OutboxRow]:
        """Reallocate the whole pool; publish only amounts that changed; create due payment requests."""
        rows = await postgres.pool_rows(conn, student_id, mef_code, school_year)
        if not rows:
            return []
        first = rows[0]
        by_id = {str(r["pfmp_id"]): r for r in rows}
        allocations: dict[str, tuple[int | None, list[str]]]
        if first["daily_rate_cents"] is None:
            allocations = {pid: (None, [f"unpriced: {first['unpriced_reason']}"]) for pid in by_id}
        else:
            result = allocate(first["daily_rate_cents"], first["yearly_cap_cents"],
                              [postgres.to_pool_pfmp(r) for r in rows])
            allocations = {a.pfmp_id: (a.amount_cents, list(a.steps)) for a in result.allocations}
        out: list[OutboxRow] = []
        for pfmp_id, (amount, steps) in allocations.items():
            row = by_id[pfmp_id]
            if row["computed_at"] is None or row["amount_cents"] != amount:
                await postgres.store_amount(conn, row["pfmp_id"], amount, steps)
                out.append(event_row(self.topic, student_id, _amount_event(row, amount, steps, cause)))
            if row["status"] == "validated" and row["payment_request_id"] is None and amount:
                request_id = uuid.uuid4()
                await postgres.insert_request(conn, request_id, row["pfmp_id"], amount)
                out.append(event_row(self.topic, student_id, PaymentRequested(
                    producer=PRODUCER, causation_id=cause, payment_request_id=request_id,
                    pfmp_id=row["pfmp_id"], schooling_id=row["schooling_id"], student_id=student_id,
                    amount_cents=amount, day_count=row["day_count"], pfmp_rank=row["rank"],
                )))
        return out


def _pricing(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["daily_rate_cents"], row["yearly_cap_cents"], row["legal_reference"], row["unpriced_reason"],
            row["school_year"])


def _amount_event(row: dict[str, Any], amount: int | None, steps: list[str], cause: UUID) -> AmountComputed:
    return AmountComputed(
        producer=PRODUCER, causation_id=cause, pfmp_id=row["pfmp_id"], schooling_id=row["schooling_id"],
        student_id=row["student_id"], school_year=row["school_year"], mef_code=row["mef_code"],
        day_count=row["day_count"], amount_cents=amount, daily_rate_cents=row["daily_rate_cents"],
        yearly_cap_cents=row["yearly_cap_cents"], legal_reference=row["legal_reference"],
        explanation=tuple(steps),
    )
