"""The gateway's groups (PaymentRequestsMoved) leave the calculator as the single events they stand for: the same
requests, returns, holds, stale counts, pools and outgoing events, event by event (the consumer's fallback: a group
through `on_moves`) and in batches (`on_batch`, any cuts), on the real PostgreSQL."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aplypro_calculator.service_layer.handlers import Handlers
from aplypro_contracts import (
    Envelope,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestStateChanged,
)
from aplypro_local.grouped_moves import Grouped, grouped
from aplypro_local.testing import interleave
from aplypro_servicekit.db import Connection

from .calculator_world import Calc

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 12, 9, tzinfo=UTC)
TABLES = {"payment_requests": "seq", "pfmps": "pfmp_id", "stale_events": "event_type",
          "over_cap_pools": "student_id, mef_code, school_year"}
WRITTEN_AT = {"updated_at", "created_at"}  # now(): each run is its own transaction, with its own time


async def ready_requests(calc: Calc, students: int) -> list[dict[str, Any]]:
    """Students with two validated PFMPs each (cap not reached): a ready request per PFMP."""
    calc.now = NOW
    for _ in range(students):
        schooling = await calc.schooling()
        for month in (10, 11):
            await calc.validate(calc.pfmp(schooling, 10, start=date(2025, month, 6), length=20))
    rows = await calc.db.fetch("SELECT r.*, p.student_id FROM payment_requests r JOIN pfmps p USING (pfmp_id) "
                               "ORDER BY seq")
    assert {r["state"] for r in rows} == {"ready"}
    return [dict(r) for r in rows]


def gateway_stream(rng: random.Random, requests: list[dict[str, Any]]) -> list[Envelope]:
    """Each request's life at the gateway, in its own order (held, ready, sent, integrated, then paid, rejected
    or unpaid), some cut short; with redeliveries and late (stale) copies; the requests interleaved."""
    streams = []
    for request in requests:
        common = {"producer": "asp-gateway", "payment_request_id": request["payment_request_id"],
                  "pfmp_id": request["pfmp_id"], "student_id": request["student_id"]}
        rib = uuid.uuid4()
        cents = request["amount_cents"]
        paid = Decimal(cents) / 100 if rng.random() < 0.8 else Decimal(cents + 1) / 100  # some MTNET mismatched
        integrated = PaymentRequestStateChanged(**common, state="integrated", rib_id=rib, version=4)
        answers = rng.choice([  # the ASP's: integrated then paid or unpaid, or rejected instead of integrated
            [integrated, PaymentRequestStateChanged(**common, state="paid", paid_amount=paid, rib_id=rib, version=5)],
            [integrated, PaymentRequestStateChanged(**common, state="paid", paid_amount=paid, recovery=True,
                                                    rib_id=rib, version=5)],
            [integrated, PaymentRequestStateChanged(**common, state="unpaid", reasons=("rib_refused",), rib_id=rib,
                                                    version=5)],
            [PaymentRequestStateChanged(**common, state="rejected", reasons=("R01",), rib_id=rib, version=4)]])
        own: list[Envelope] = [
            PaymentRequestHeld(**common, reasons=rng.sample(["missing_rib", "ine_not_found"], 1), version=1),
            PaymentRequestStateChanged(**common, state="ready", rib_id=rib, version=2),
            PaymentRequestSent(**common, amount_cents=cents, file_name="ASP_F1.xml", rib_id=rib, version=3),
            *answers]
        own = own[rng.choice([0, 0, 1]):rng.randint(2, len(own))]
        for _ in range(rng.randint(0, 2)):  # a redelivery (a new id: the gateway announcing it again)
            own.insert(rng.randrange(len(own) + 1), rng.choice(own).model_copy(update={"event_id": uuid.uuid4()}))
        for _ in range(rng.randint(0, 3)):  # late ones: read after newer ones, to be dropped and counted
            i = rng.randrange(len(own))
            own.insert(rng.randrange(i, len(own) + 1), own.pop(i))
        streams.append([e.model_copy(update={"occurred_at": NOW + timedelta(minutes=n)}) for n, e in enumerate(own)])
    return interleave(rng, streams)


Apply = Callable[[Connection], Awaitable[None]]


async def state_after(calc: Calc, apply: Apply) -> dict[str, list[Any]]:
    """Every table the ASP returns touch and the outgoing events, after `apply`, then undone (the next run starts
    from the same requests)."""
    async with calc.db.acquire() as conn:
        outer = conn.transaction()
        await outer.start()
        try:
            mark = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))
            await apply(conn)
            out: dict[str, list[Any]] = {
                t: [{k: v for k, v in dict(r).items() if k not in WRITTEN_AT}
                    for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY {key}")] for t, key in TABLES.items()}
            out["outbox"] = [(r["topic"], r["key"], _without_ids(r["payload"]))
                             for r in await conn.fetch("SELECT * FROM outbox WHERE id > $1 ORDER BY id", mark)]
        finally:
            await outer.rollback()
    return out


def _without_ids(payload: bytes) -> dict[str, Any]:
    body = json.loads(payload)
    return {k: v for k, v in body.items() if k not in ("event_id", "occurred_at")}  # new at each run


def one_by_one(handlers: Handlers, events: list[Any]) -> Apply:
    """The consumer's per-event path: each event under its savepoint, a group through its own handler."""
    by_type = {"PaymentRequestsMoved": handlers.on_moves}

    async def apply(conn: Connection) -> None:
        for event in events:
            async with conn.transaction():
                await by_type.get(event.event_type, handlers.on_event)(conn, event)
    return apply


def in_batches(handlers: Handlers, batches: list[list[Any]]) -> Apply:
    async def apply(conn: Connection) -> None:
        for batch in batches:
            async with conn.transaction():
                await handlers.on_batch(conn, batch)
    return apply


def assert_covers(stream: Grouped) -> None:
    cases = stream.cases()
    assert min(cases.values()) > 0, cases  # groups read twice, older than a single read before, ...
    assert min(cases["groups"], cases["moved_both_ways"]) > 5, cases


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_groups_leave_the_calculator_as_their_single_events_do(calc: Calc, seed: int) -> None:
    rng = random.Random(seed)
    stream = grouped(rng, gateway_stream(rng, await ready_requests(calc, 25)), share=0.3, window=30,
                    twice=0.2)
    assert_covers(stream)
    # Event by event: the single events, then the groups through on_moves.
    singles = await state_after(calc, one_by_one(calc.handlers, stream.flat))
    states = {r["state"] for r in singles["payment_requests"]}
    assert states >= {"ready", "sent", "integrated", "paid", "rejected", "unpaid"}, states
    assert {r["event_type"] for r in singles["stale_events"]} >= {"PaymentRequestStateChanged"}
    assert any(r["gateway_reasons"] for r in singles["payment_requests"])
    assert await state_after(calc, one_by_one(calc.handlers, stream.mixed)) == singles
    # In batches: the same cuts, as groups or as single events; and the same rows as event by event, but for a row's
    # own `version`, which counts its updates (one a batch).
    cuts = stream.cuts(rng, [1, 2, 7, 50, 300])
    batched_singles = await state_after(calc, in_batches(calc.handlers, [flat for _, flat in cuts]))
    batched_groups = await state_after(calc, in_batches(calc.handlers, [mixed for mixed, _ in cuts]))
    assert batched_groups == batched_singles
    assert _but_row_versions(batched_singles) == _but_row_versions(singles)


def _but_row_versions(state: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {**state, "payment_requests": [{k: v for k, v in r.items() if k != "version"}
                                          for r in state["payment_requests"]]}
