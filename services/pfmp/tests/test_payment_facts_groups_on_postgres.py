"""The gateway's groups (PaymentRequestsMoved) leave the payment facts as the single events they stand for: through
the batch handler (facts_batch.on_batch, any cuts) and through the per-event handlers (the consumer's fallback)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    MovedRequest,
    PaymentRequestsMoved,
    PaymentRequestStateChanged,
)
from aplypro_contracts.topics import ASP_EVENTS
from aplypro_local.grouped_moves import grouped
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.service_layer import facts, facts_batch
from aplypro_servicekit.db import create_pool, migrate

from .test_payment_facts_batch_on_postgres import TABLES, _events, consume_asp_batch

pytestmark = pytest.mark.integration


@pytest.fixture
async def pools(database_url: str, namespace: str) -> AsyncIterator[list[asyncpg.Pool]]:
    """Three schemas migrated the same way: the single events, the groups batched, the groups one by one."""
    settings = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace)
    opened = []
    for name in ("pfmpsingle", "pfmpbatch", "pfmpfallback"):
        schema = settings.db_schema(name)
        pool = await create_pool(database_url, schema)
        await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
        opened.append(pool)
    yield opened
    for pool in opened:
        await pool.close()


async def _one_by_one(pool: asyncpg.Pool, events: list[Any]) -> None:
    async with pool.acquire() as conn:
        for event in events:
            async with conn.transaction():
                await facts.HANDLERS[event.event_type](conn, event)


async def _tables(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    async with pool.acquire() as conn:
        return {t: [dict(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY {key}")]
                for t, key in TABLES.items()}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_groups_leave_the_state_their_single_events_leave(pools: list[asyncpg.Pool], seed: int) -> None:
    rng = random.Random(seed)
    stream = grouped(rng, _events(rng, 150))
    cases = stream.cases()
    assert min(cases.values()) > 0, cases  # groups read twice, older than a single read before, ...
    assert min(cases["groups"], cases["moved_both_ways"]) > 20, cases
    singles, batched, fallback = pools
    await _one_by_one(singles, stream.flat)
    async with batched.acquire() as conn:
        start = 0
        while start < len(stream.mixed):  # the consumer's cuts: a group with singles of its requests, or alone
            size = rng.choice([1, 2, 7, 50, 300])
            async with conn.transaction():
                await facts_batch.on_batch(conn, stream.mixed[start:start + size])
            start += size
    await _one_by_one(fallback, stream.mixed)  # each group through its per-event handler
    expected = await _tables(singles)
    assert len(expected["payment_requests"]) > 100
    got = {"batched": await _tables(batched), "per event": await _tables(fallback)}
    assert [f"{path}: {table}" for path, tables in got.items() for table in TABLES
            if tables[table] != expected[table]] == []


async def test_a_group_that_breaks_a_rule_is_dead_lettered_whole_and_the_rest_of_its_batch_applied(
    pools: list[asyncpg.Pool]
) -> None:
    """An ASP amount with a fraction of a cent in one of a group's moves fails the fold, then the group's per-event
    handler: the group is one message, so it is dead-lettered whole (none of its moves applied, the good one
    included); the single event read in the same batch is applied."""
    pool = pools[0]
    student, single, good, bad = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    group = PaymentRequestsMoved(producer="asp-gateway", requests=tuple(
        MovedRequest(payment_request_id=request, pfmp_id=uuid.uuid4(), student_id=student, version=4, state="paid",
                     paid_amount=amount, correlation_id=uuid.uuid4())
        for request, amount in ((good, Decimal("150.00")), (bad, Decimal("150.005")))))
    alone = PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=single, pfmp_id=uuid.uuid4(),
                                       student_id=student, state="paid", paid_amount=Decimal(90), version=4)
    consumer = await consume_asp_batch(pool, (group, alone), student)
    assert (consumer.processed, consumer.dead_lettered) == (1, 1)
    async with pool.acquire() as conn:
        rows = {r["payment_request_id"]: r["paid_cents"] for r in await conn.fetch("SELECT * FROM payment_requests")}
        dead = await conn.fetch("SELECT topic, headers FROM outbox")
    assert rows == {single: 9000}
    [(topic, headers)] = [(r["topic"], r["headers"]) for r in dead]
    assert topic == ASP_EVENTS + ".dlt"
    told = json.loads(headers)
    assert (told["event-type"], told["dlt-reason-code"]) == ("PaymentRequestsMoved", "fractional_cents")
