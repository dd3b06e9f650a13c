"""Builders and probes of the calculator tests: a calculator on the real PostgreSQL, fed directly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.entrypoints.service import build_handlers
from aplypro_calculator.service_layer.evaluation import Evaluated, evaluate_due
from aplypro_calculator.service_layer.handlers import Handlers
from aplypro_contracts import (
    DocumentIssued,
    DocumentReady,
    Envelope,
    Establishment,
    Mef,
    PaymentRequestStateChanged,
    PfmpRecorded,
    PfmpRectified,
    PfmpState,
    PfmpValidated,
    SchoolingOpened,
    default_registry,
)

UAI, OTHER_UAI = "0350001A", "0350002B"
# 2025-26 MENJ barème: terminale 20 €/1,000 €, première 15 €/600 €; CAP in 3 years, 1st year: unpriced.
TERMINALE = Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
                label="BAC PRO METIERS DE L'ELECTRICITE", ministry="MENJ")
PREMIERE = TERMINALE.model_copy(update={"code": "2473121132", "year": 2})
UNPRICED = Mef(code="2423121131", dispositif="242", diploma="50025510", duration=3, year=1,
               label="CAP EN 3 ANS", ministry="MENJ")
REGISTRY = default_registry()


def settings_for(namespace: str, **values: Any) -> CalculatorSettings:
    # The namespace is a shared setting read under its unprefixed name: each test gets its own schema.
    return CalculatorSettings(APLYPRO_TOPIC_NAMESPACE=namespace, **values)


@dataclass
class Calc:
    """Builders and probes for one test's calculator schema.

    `now` is the calculator's clock (None: the real time); `validate(at=...)` dates the validation.
    """

    db: asyncpg.Pool
    handlers: Handlers
    namespace: str
    _seq: int = 0
    now: datetime | None = None
    _version: int = 0  # every PFMP event fed by the builders is newer than the ones before it

    def next_version(self) -> int:
        self._version += 1
        return self._version

    @classmethod
    def on(cls, db: asyncpg.Pool, namespace: str, **settings: Any) -> Calc:
        calc = cls(db, build_handlers(settings_for(namespace, **settings)), namespace)
        calc.handlers = replace(calc.handlers, clock=calc.clock)
        return calc

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    async def evaluate_due(self, now: datetime, batch_size: int = 1000) -> Evaluated:
        """One pass of the evaluator of due requests, at `now`."""
        return await evaluate_due(self.db, self.handlers, now=now, batch_size=batch_size)

    def with_switch(self, enabled: bool) -> Handlers:
        return replace(self.handlers, negative_rectifications_enabled=enabled)

    async def feed(self, *events: Envelope, handlers: Handlers | None = None) -> None:
        """One consumer batch: the handlers inside one transaction, as the servicekit consumer runs them."""
        async with self.db.acquire() as conn, conn.transaction():
            await (handlers or self.handlers).on_batch(conn, list(events))

    async def feed_one(self, event: Envelope) -> None:
        """The consumer's fallback path: one event alone (what raises here is dead-lettered)."""
        async with self.db.acquire() as conn, conn.transaction():
            await self.handlers.on_event(conn, event)

    async def schooling(self, *, mef: Mef = TERMINALE, uai: str = UAI, student_id: uuid.UUID | None = None,
                        schooling_id: uuid.UUID | None = None, start: date = date(2025, 9, 1),
                        end: date | None = None, with_decision: bool = True) -> SchoolingOpened:
        """A schooling, with its décision d'attribution issued (as the documents service does) unless told."""
        event = SchoolingOpened(
            producer="students", schooling_id=schooling_id or uuid.uuid4(), student_id=student_id or uuid.uuid4(),
            establishment=Establishment(uai=uai, name="LP test"), class_label="TLE", school_year=2025, mef=mef,
            start_date=start, end_date=end, version=1)
        await self.feed(event)
        if with_decision:
            await self.feed(self.decision(event))
        return event

    def decision(self, schooling: SchoolingOpened, kind: str = "attribution", version: int = 1) -> DocumentReady:
        """The documents service's announcement of a DA document (attribution, abrogation, retrait)."""
        return DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind=kind, schooling_id=schooling.schooling_id,
            student_id=schooling.student_id, number="ENPUK7Q2M9X4TB20251", version=version,
            storage_ref=f"attribution/{schooling.schooling_id}.pdf", sha256="0" * 64, size_bytes=1024)

    def issued(self, schooling: SchoolingOpened, kind: str = "attribution", version: int = 1) -> DocumentIssued:
        """The documents service's issue of a DA document: number and content fixed, its PDF not rendered yet."""
        return DocumentIssued(
            producer="documents", document_id=uuid.uuid4(), kind=kind, schooling_id=schooling.schooling_id,
            student_id=schooling.student_id, number="ENPUK7Q2M9X4TB20251", version=version,
            content_sha256="1" * 64)

    def pfmp(self, schooling: SchoolingOpened, days: int | None, *, start: date = date(2025, 10, 6),
             length: int = 60, status: str = "completed", pfmp_id: uuid.UUID | None = None) -> PfmpState:
        self._seq += 1
        return PfmpState(pfmp_id=pfmp_id or uuid.uuid4(), schooling_id=schooling.schooling_id,
                         student_id=schooling.student_id, start_date=start,
                         end_date=start + timedelta(days=length - 1), day_count=days, status=status,
                         created_seq=self._seq, rank=self._seq, version=self.next_version())

    async def record(self, state: PfmpState, **changes: Any) -> PfmpState:
        state = state.model_copy(update={**changes, "version": self.next_version()})
        await self.feed(PfmpRecorded(producer="pfmp", pfmp=state))
        return state

    async def validate(self, state: PfmpState, *, at: datetime | None = None) -> PfmpState:
        state = state.model_copy(update={"status": "validated", "version": self.next_version()})
        await self.feed(PfmpValidated(producer="pfmp", pfmp=state, **({"occurred_at": at} if at else {})))
        return state

    def rectified(self, state: PfmpState, days: int, *, by: str = "user") -> PfmpRectified:
        update = {"status": "rectified", "day_count": days, "version": self.next_version()}
        return PfmpRectified(producer="pfmp", pfmp=state.model_copy(update=update),
                             initiated_by=by, requested_by="director-1")

    def asp(self, request: dict[str, Any], state: str, **values: Any) -> PaymentRequestStateChanged:
        return PaymentRequestStateChanged(
            producer="asp-gateway", payment_request_id=request["payment_request_id"], pfmp_id=request["pfmp_id"],
            student_id=uuid.uuid4(), state=state, **{"version": self.next_version(), **values})

    async def pay(self, state: PfmpState, mtnet: Decimal | None = None) -> dict[str, Any]:
        """Take the PFMP's latest (ready) request through ASP: sent, integrated, paid."""
        request = (await self.requests(state.pfmp_id))[-1]
        assert request["state"] == "ready"
        paid = Decimal(request["amount_cents"]) / 100 if mtnet is None else mtnet
        await self.feed(self.asp(request, "sent"), self.asp(request, "integrated"),
                        self.asp(request, "paid", paid_amount=paid))
        return (await self.requests(state.pfmp_id))[-1]

    async def requests(self, pfmp_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.db.fetch("SELECT * FROM payment_requests WHERE pfmp_id = $1 ORDER BY seq", pfmp_id)
        return [dict(r) for r in rows]

    async def amount(self, pfmp_id: uuid.UUID) -> int | None:
        cents = await self.db.fetchval("SELECT amount_cents FROM pfmps WHERE pfmp_id = $1", pfmp_id)
        return None if cents is None else int(cents) // 100

    async def mark(self) -> int:
        return int(await self.db.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))

    async def events(self, since: int = 0, event_type: str | None = None) -> list[Any]:
        """Outgoing events written to the outbox after `since`, decoded back into their models."""
        rows = await self.db.fetch("SELECT payload FROM outbox WHERE id > $1 ORDER BY id", since)
        decoded = [REGISTRY.parse(r["payload"]) for r in rows]
        return [e for e in decoded if event_type is None or e.event_type == event_type]
