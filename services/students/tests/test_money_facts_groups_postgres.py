"""The gateway's groups (PaymentRequestsMoved) leave the money facts as the single events they stand for: through
the batch handler (`money_facts.on_batch`, any cuts) and the per-event handlers (the consumer's fallback), their
holds ignored as the single PaymentRequestHeld is (no handler here)."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import PaymentRequestHeld, PaymentRequestSent, PaymentRequestStateChanged
from aplypro_local.grouped_moves import grouped
from aplypro_local.testing import interleave
from aplypro_students.adapters.postgres_rib_payments import RequestRow
from aplypro_students.service_layer import money_facts

from .sample_school import sample_school
from .test_money_facts_batch_postgres import fact_events, gateway_events, reset, state_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    async with sample_school(database_url, namespace) as pool:
        yield pool


def with_holds(rng: random.Random, events: list[Any]) -> list[Any]:
    """The gateway's holds of some requests, before their other events, with versions of their own sequence."""
    out: list[Any] = []
    held: set[uuid.UUID] = set()
    for event in events:
        if (isinstance(event, PaymentRequestSent | PaymentRequestStateChanged)
                and event.payment_request_id not in held and rng.random() < 0.4):
            held.add(event.payment_request_id)
            out.append(PaymentRequestHeld(producer="asp-gateway", payment_request_id=event.payment_request_id,
                                          pfmp_id=event.pfmp_id, student_id=event.student_id,
                                          reasons=("missing_rib",), version=event.version + 1))
        out.append(event)
    return out


async def _one_by_one(pool: asyncpg.Pool, events: list[Any]) -> None:
    async with pool.acquire() as conn:
        for event in events:
            async with conn.transaction():
                await money_facts.HANDLERS[event.event_type](conn, event)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_groups_leave_the_state_their_single_events_leave(pool: asyncpg.Pool, seed: int) -> None:
    rng = random.Random(seed)
    schoolings = [r["schooling_id"] for r in await pool.fetch("SELECT schooling_id FROM schoolings")]
    held = [RequestRow(uuid.uuid4(), uuid.uuid4(), rng.choice([uuid.uuid4(), None]), rng.random() < 0.5,
                       rng.choice([0, 0, 1, 2, 3])) for _ in range(20)]
    stream = grouped(rng, interleave(rng, [with_holds(rng, gateway_events(rng, 150)),
                                           fact_events(rng, schoolings, 100)]))
    cases = stream.cases()
    assert min(cases.values()) > 0, cases  # groups read twice, older than a single read before, ...
    assert min(cases["groups"], cases["moved_both_ways"]) > 20, cases
    # The consumer hands over only the types it has a handler for: a single hold never reaches it.
    flat = [e for e in stream.flat if e.event_type in money_facts.HANDLERS]
    mixed = [e for e in stream.mixed if e.event_type in money_facts.HANDLERS]
    assert len(flat) < len(stream.flat)
    assert any(r.state == "held" for e in mixed if e.event_type == "PaymentRequestsMoved" for r in e.requests)

    await reset(pool, held)
    await _one_by_one(pool, flat)
    expected = await state_of(pool)
    await reset(pool, held)
    async with pool.acquire() as conn:
        at = 0
        while at < len(mixed):
            cut = rng.choice([1, 2, 7, 50, 200, 500])
            async with conn.transaction():
                await money_facts.on_batch(conn, mixed[at:at + cut])
            at += cut
    batched = await state_of(pool)
    await reset(pool, held)
    await _one_by_one(pool, mixed)  # each group through its per-event handler
    fallback = await state_of(pool)

    assert len(expected[0]) > 150
    want = [[dict(r) for r in rows] for rows in expected]
    assert [path for path, got in (("batched", batched), ("per event", fallback))
            if [[dict(r) for r in rows] for rows in got] != want] == []
