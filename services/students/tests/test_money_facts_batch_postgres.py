"""The money-facts consumer's batch handler (`money_facts.on_batch`) leaves the database as its per-event
handlers applied in order would, in a bounded number of statements whatever the batch's size."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    DocumentIssued,
    DocumentReady,
    Envelope,
    PaymentRequested,
    PaymentRequestSent,
    PaymentRequestStateChanged,
)
from aplypro_contracts.examples import examples
from aplypro_local.testing import interleave
from aplypro_students.adapters import postgres_rib_payments
from aplypro_students.adapters.postgres_rib_payments import ConcurrentInsert, RequestRow
from aplypro_students.service_layer import money_facts
from structlog.testing import capture_logs

from .sample_school import sample_school

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 2, 8, tzinfo=UTC)
STATES = ["incomplete", "ready", "sent", "integrated", "rejected", "paid", "unpaid"]


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """The sample school, its first schooling retracted (a fact for it is the operators' warning)."""
    async with sample_school(database_url, namespace) as pool:
        await pool.execute("UPDATE schoolings SET retracted_at = now() WHERE schooling_id = "
                           "(SELECT min(schooling_id::text)::uuid FROM schoolings)")
        yield pool


def gateway_events(rng: random.Random, requests: int) -> list[Envelope]:
    """Each request's events as the gateway publishes them, versioned (v2/v3) or, for some, unversioned v1
    messages (upcast to version 0); then delivered with duplicates, stale copies and local reorderings."""
    sent = next(e for e in examples() if isinstance(e, PaymentRequestSent))
    moved = next(e for e in examples() if isinstance(e, PaymentRequestStateChanged))
    out: list[list[Envelope]] = []
    for _ in range(requests):
        request, student, rib = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        unversioned = rng.random() < 0.2
        path = ["ready", "sent", "integrated", rng.choice(["paid", "paid", "rejected", "unpaid"])]
        if rng.random() < 0.15:
            path = ["incomplete", *path]
        own: list[Envelope] = []
        for version, state in enumerate(path[: rng.randint(1, len(path))], start=1):
            v = 0 if unversioned else version
            with_rib = rib if rng.random() < 0.8 else None  # older messages carry no RIB
            if state == "sent" and rng.random() < 0.7:
                own.append(sent.model_copy(update={
                    "event_id": uuid.uuid4(), "payment_request_id": request, "student_id": student,
                    "version": v, "rib_id": with_rib}))
                continue
            own.append(moved.model_copy(update={
                "event_id": uuid.uuid4(), "payment_request_id": request, "student_id": student, "state": state,
                "version": v, "rib_id": with_rib if state in ("ready", "sent") else None}))
        for _ in range(rng.randint(0, 2)):  # a redelivered or replayed copy, somewhere later
            original = rng.randrange(len(own))
            own.insert(rng.randint(original + 1, len(own)), own[original].model_copy(update={"event_id": uuid.uuid4()}))
        for i in range(len(own) - 1):  # out of order
            if rng.random() < 0.25:
                own[i], own[i + 1] = own[i + 1], own[i]
        if rng.random() < 0.1:  # an unversioned straggler after versioned state
            own.append(moved.model_copy(update={"event_id": uuid.uuid4(), "payment_request_id": request,
                                                "student_id": student, "state": "sent", "version": 0,
                                                "rib_id": uuid.uuid4()}))
        out.append(own)
    return interleave(rng, out)


def fact_events(rng: random.Random, schoolings: list[uuid.UUID], count: int) -> list[Envelope]:
    """Documents and calculator events of the known schoolings and of schoolings never heard of."""
    templates = {model: next(e for e in examples() if isinstance(e, model))
                 for model in (DocumentIssued, DocumentReady, PaymentRequested)}
    pool = [*schoolings, *(uuid.uuid4() for _ in range(20))]
    out: list[Envelope] = []
    for _ in range(count):
        model = rng.choice(list(templates))
        update: dict[str, Any] = {"event_id": uuid.uuid4(), "schooling_id": rng.choice(pool),
                                  "occurred_at": START + timedelta(seconds=rng.randint(0, 50_000))}
        if model is not PaymentRequested:
            update["kind"] = rng.choice(["attribution", "attribution", "abrogation", "retrait", "liquidation"])
        out.append(templates[model].model_copy(update=update))
    return out


async def state_of(pool: asyncpg.Pool) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    return (await pool.fetch("SELECT * FROM rib_payment_requests ORDER BY payment_request_id"),
            await pool.fetch("SELECT * FROM schooling_money_facts ORDER BY schooling_id"))


def warned(logs: list[MutableMapping[str, Any]]) -> set[str]:
    return {e["schooling_id"] for e in logs if e["event"] == "money_fact_on_retracted_schooling"}


async def reset(pool: asyncpg.Pool, held: list[RequestRow]) -> None:
    """The consumer's tables as before the events: only the requests held from earlier batches."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("TRUNCATE rib_payment_requests, schooling_money_facts")
        await postgres_rib_payments.write_requests(conn, held, {r.payment_request_id for r in held})


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_the_batch_handler_leaves_the_state_the_per_event_handlers_leave(pool: asyncpg.Pool, seed: int) -> None:
    # One schema, its two tables reset between the runs: the schoolings (whose ids the events name, and which
    # say who is retracted) are the same for both.
    rng = random.Random(seed)
    schoolings = [r["schooling_id"] for r in await pool.fetch("SELECT schooling_id FROM schoolings")]
    # Some requests already known from earlier batches: versioned, unversioned, with or without their RIB.
    held = [RequestRow(uuid.uuid4(), uuid.uuid4(), rng.choice([uuid.uuid4(), None]), rng.random() < 0.5,
                       rng.choice([0, 0, 1, 2, 3])) for _ in range(40)]
    streams = [gateway_events(rng, 150), fact_events(rng, schoolings, 300)]
    sent = next(e for e in examples() if isinstance(e, PaymentRequestSent))
    streams.append([sent.model_copy(update={  # events of the requests already held
        "event_id": uuid.uuid4(), "payment_request_id": r.payment_request_id, "student_id": r.student_id,
        "version": rng.choice([0, 1, 2, 3, 4]), "rib_id": rng.choice([uuid.uuid4(), None])})
        for r in held for _ in range(rng.randint(1, 3))])
    events = interleave(rng, streams)

    await reset(pool, held)
    with capture_logs() as per_event_logs:
        async with pool.acquire() as conn:
            for event in events:
                async with conn.transaction():
                    await money_facts.HANDLERS[event.event_type](conn, event)
    expected = await state_of(pool)

    await reset(pool, held)
    with capture_logs() as batch_logs:
        async with pool.acquire() as conn:
            at = 0
            while at < len(events):
                cut = rng.choice([1, 2, 7, 50, 200, 500])
                async with conn.transaction():
                    await money_facts.on_batch(conn, events[at:at + cut])
                at += cut
    got = await state_of(pool)

    assert len(expected[0]) > 150
    assert len(expected[1]) > 10
    assert [dict(r) for r in got[0]] == [dict(r) for r in expected[0]]
    assert [dict(r) for r in got[1]] == [dict(r) for r in expected[1]]
    # The operators' alert: every retracted schooling a fact came for, as the per-event path warns of it.
    assert warned(batch_logs) == warned(per_event_logs) != set()


async def test_a_batch_runs_the_same_few_statements_whatever_its_size(pool: asyncpg.Pool) -> None:
    rng = random.Random(7)
    schoolings = [r["schooling_id"] for r in await pool.fetch("SELECT schooling_id FROM schoolings")]
    statements: list[str] = []
    counts = []
    async with pool.acquire() as conn:
        # asyncpg learns the array types once per connection (its own catalogue queries): not counted
        async with conn.transaction():
            await money_facts.on_batch(conn, interleave(rng, [gateway_events(rng, 10), fact_events(rng, schoolings, 9)]))
        conn.add_query_logger(lambda record: statements.append(record.query))
        for requests, facts in ((10, 20), (130, 500)):
            events = interleave(rng, [gateway_events(rng, requests), fact_events(rng, schoolings, facts)])
            assert len(events) > (50 if requests == 10 else 500)
            async with conn.transaction():
                before = len(statements)
                await money_facts.on_batch(conn, events)
                counts.append(len(statements) - before)
    # Read the requests, write them, write the facts, read which schoolings are retracted.
    assert counts == [4, 4]


async def test_a_row_inserted_by_another_transaction_during_the_batch_makes_it_fall_back(
        pool: asyncpg.Pool) -> None:
    row = RequestRow(uuid.uuid4(), uuid.uuid4(), None, True, 2)
    async with pool.acquire() as conn, conn.transaction():
        await postgres_rib_payments.write_requests(conn, [row], {row.payment_request_id})
    stale = RequestRow(row.payment_request_id, row.student_id, uuid.uuid4(), False, 1)
    async with pool.acquire() as conn:
        with pytest.raises(ConcurrentInsert):  # not a transient error: the consumer replays event by event
            async with conn.transaction():
                await postgres_rib_payments.write_requests(conn, [stale], {stale.payment_request_id})
    assert [dict(r) for r in await pool.fetch("SELECT * FROM rib_payment_requests")] == [{
        "payment_request_id": row.payment_request_id, "student_id": row.student_id, "rib_id": None,
        "in_progress": True, "version": 2}]
