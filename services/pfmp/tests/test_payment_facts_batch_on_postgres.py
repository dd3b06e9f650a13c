"""The payment-facts batch handler (facts_batch.on_batch) leaves the database exactly as the per-event handlers
applied in order do (facts.HANDLERS, its reference and fallback), in a bounded number of statements a batch."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    AmountComputed,
    DocumentIssued,
    DocumentReady,
    Envelope,
    PaymentRequestBlocked,
    PaymentRequested,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestStateChanged,
    SchoolingPriced,
    default_registry,
    to_wire,
)
from aplypro_contracts.topics import ASP_EVENTS
from aplypro_pfmp.adapters import payment_facts_sql
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.service_layer import facts, facts_batch
from aplypro_servicekit.consumer import EventConsumer
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.deadletter import is_transient

# Every table the payment-facts consumer writes, with its key.
TABLES = {"payment_requests": "payment_request_id", "pfmps_known_to_asp": "pfmp_id", "stale_events": "event_type",
          "decisions": "schooling_id, kind", "pfmp_amounts": "pfmp_id", "schooling_prices": "schooling_id"}
START = datetime(2026, 9, 1, tzinfo=UTC)
GATEWAY_STATES = ("incomplete", "ready", "sent", "integrated", "rejected", "paid", "unpaid")


def _events(rng: random.Random, requests: int) -> list[Any]:
    """A realistic, hostile stream: each request's calculator and gateway events mostly in order, with duplicates,
    late (stale) and unversioned (v0) ones, requests the calculator never announced, the other event types of the
    consumer interleaved, and timestamps that move both ways."""
    student, schoolings = uuid.uuid4(), [uuid.uuid4() for _ in range(max(2, requests // 10))]
    pfmps = [uuid.uuid4() for _ in range(max(2, requests // 3))]
    streams: list[list[Any]] = []

    def at() -> datetime:
        return START + timedelta(minutes=rng.randrange(0, 10_000))

    def version(n: int) -> int:
        return 0 if rng.random() < 0.08 else n  # an unversioned v1 message, upcast

    for _ in range(requests):
        request, pfmp = uuid.uuid4(), rng.choice(pfmps)
        schooling = rng.choice(schoolings)
        own: list[Any] = []
        if rng.random() < 0.85:  # some requests are seen only through the gateway
            for n in range(1, rng.randint(2, 4)):
                if rng.random() < 0.6:
                    own.append(PaymentRequested(
                        producer="calculator", payment_request_id=request, pfmp_id=pfmp, schooling_id=schooling,
                        student_id=student, amount_cents=rng.randrange(0, 300) * 100, day_count=10, pfmp_rank=1,
                        version=version(n), occurred_at=at()))
                else:
                    own.append(PaymentRequestBlocked(
                        producer="calculator", payment_request_id=request, pfmp_id=pfmp, student_id=student,
                        reasons=rng.sample(["pfmp", "overlaps", "pfmp_amount"], rng.randint(1, 2)),
                        parked=rng.random() < 0.3, version=version(n), occurred_at=at()))
        for n in range(1, rng.randint(2, 8)):
            kind = rng.random()
            if kind < 0.15:
                own.append(PaymentRequestHeld(
                    producer="asp-gateway", payment_request_id=request, pfmp_id=pfmp, student_id=student,
                    reasons=rng.sample(["missing_rib", "ine_not_found", "adult_wrong_owner_type"], rng.randint(1, 2)),
                    version=version(n), occurred_at=at()))
            elif kind < 0.35:
                own.append(PaymentRequestSent(
                    producer="asp-gateway", payment_request_id=request, pfmp_id=pfmp, student_id=student,
                    amount_cents=rng.randrange(0, 300) * 100, file_name="f", version=version(n), occurred_at=at()))
            else:
                state = rng.choice(GATEWAY_STATES)
                paid = Decimal(rng.randrange(0, 30_000)) / 100 if state == "paid" and rng.random() < 0.8 else None
                own.append(PaymentRequestStateChanged(
                    producer="asp-gateway", payment_request_id=request, pfmp_id=pfmp, student_id=student,
                    state=state, paid_amount=paid, recovery=paid is not None and rng.random() < 0.2,
                    reasons=("rib_refused",) if state in ("rejected", "unpaid") else (), version=version(n),
                    occurred_at=at()))
        for _ in range(rng.randint(0, 2)):  # duplicates (a replay, a gateway re-announcing)
            own.insert(rng.randrange(len(own) + 1), rng.choice(own).model_copy(update={"event_id": uuid.uuid4()}))
        unpaid = [e for e in own if isinstance(e, PaymentRequestStateChanged) and e.paid_amount is None]
        if unpaid and rng.random() < 0.3:  # a topic replay of a state projected before migration 0016 kept amounts
            original = rng.choice(unpaid)
            replay = original.model_copy(update={"event_id": uuid.uuid4(), "paid_amount": Decimal("12.34")})
            own.insert(rng.randrange(own.index(original) + 1, len(own) + 1), replay)
        for _ in range(rng.randint(0, 2)):  # late ones: read after newer ones, to be dropped and counted
            i = rng.randrange(len(own))
            own.insert(rng.randrange(i, len(own) + 1), own.pop(i))
        streams.append(own)
    # Interleave the requests' streams (each keeps its order) and the consumer's other events.
    slots = [i for i, own in enumerate(streams) for _ in own]
    rng.shuffle(slots)
    iters = [iter(own) for own in streams]
    stream = [next(iters[i]) for i in slots]
    for _ in range(requests // 2):
        # a few PFMPs' amounts computed several times, some at the same time (the first of equal times wins)
        stream.insert(rng.randrange(len(stream) + 1), _other(rng, rng.choice(schoolings), rng.choice(pfmps[:8]),
                                                              student, at()))
    return stream


def _other(rng: random.Random, schooling: uuid.UUID, pfmp: uuid.UUID, student: uuid.UUID, at: datetime) -> Any:
    kind = rng.randrange(4)
    if kind == 0:
        return AmountComputed(producer="calculator", pfmp_id=pfmp, schooling_id=schooling, student_id=student,
                              school_year=2026, mef_code="m", day_count=10, amount_cents=rng.randrange(100) * 100,
                              occurred_at=START + timedelta(minutes=rng.randrange(6)))
    if kind == 1:
        return SchoolingPriced(producer="calculator", schooling_id=schooling, student_id=student, school_year=2026,
                               priced=True, daily_rate_cents=rng.choice([1000, 1500]), yearly_cap_cents=60000,
                               occurred_at=at)
    common = {"producer": "documents", "document_id": uuid.uuid4(), "schooling_id": schooling,
              "student_id": student, "number": "n", "version": rng.randint(1, 3), "occurred_at": at,
              "kind": rng.choice(["attribution", "abrogation", "retrait", "liquidation"])}
    if kind == 2:
        return DocumentIssued(**common, content_sha256="0" * 64)
    return DocumentReady(**common, storage_ref="s", sha256="0" * 64, size_bytes=1)


@pytest.fixture
async def pools(database_url: str, namespace: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two schemas migrated the same way: one for the per-event handlers, one for the batch handler."""
    settings = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace)
    opened = []
    for name in ("pfmp", "pfmpbatch"):
        schema = settings.db_schema(name)
        pool = await create_pool(database_url, schema)
        await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
        opened.append(pool)
    yield opened[0], opened[1]
    for pool in opened:
        await pool.close()


async def _tables(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    async with pool.acquire() as conn:
        return {t: [dict(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY {key}")]
                for t, key in TABLES.items()}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_batches_leave_the_state_the_events_in_order_leave(
    pools: tuple[asyncpg.Pool, asyncpg.Pool], seed: int
) -> None:
    rng = random.Random(seed)
    events = _events(rng, 150)
    one_by_one, batched = pools
    async with one_by_one.acquire() as conn:
        for event in events:
            async with conn.transaction():
                await facts.HANDLERS[event.event_type](conn, event)
    async with batched.acquire() as conn:
        start = 0
        while start < len(events):  # the consumer's cuts: any size, a request's events split across them
            size = rng.choice([1, 2, 7, 50, 300])
            async with conn.transaction():
                await facts_batch.on_batch(conn, events[start:start + size])
            start += size
    expected, got = await _tables(one_by_one), await _tables(batched)
    assert len(expected["payment_requests"]) > 100  # the stream covers the rules
    assert {r["event_type"] for r in expected["stale_events"]} >= {
        "PaymentRequested", "PaymentRequestBlocked", "PaymentRequestSent", "PaymentRequestStateChanged"}
    for table in TABLES:
        assert got[table] == expected[table], table


async def test_a_batch_runs_a_bounded_number_of_statements(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    """500 gateway events (100 requests: ready, sent, integrated, paid, and a stale paid) take as many statements as
    20: one locked read, one write of the requests, one of the PFMPs known to the ASP, one of the stale counts."""
    _, pool = pools
    counts = []
    for requests in (4, 4, 100):  # the first one warms the connection's type introspection up
        events: list[Any] = []
        for _ in range(requests):
            request, pfmp, student = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            common = {"producer": "asp-gateway", "payment_request_id": request, "pfmp_id": pfmp,
                      "student_id": student}
            events += [PaymentRequestStateChanged(**common, state="ready", version=1),
                       PaymentRequestSent(**common, amount_cents=10000, file_name="f", version=2),
                       PaymentRequestStateChanged(**common, state="integrated", version=3),
                       PaymentRequestStateChanged(**common, state="paid", paid_amount=Decimal(100), version=4),
                       PaymentRequestStateChanged(**common, state="paid", version=3)]  # stale
        statements: list[str] = []

        def log(record: Any, statements: list[str] = statements) -> None:
            statements.append(record.query)

        async with pool.acquire() as conn:
            conn.add_query_logger(log)
            try:
                async with conn.transaction():
                    await facts_batch.on_batch(conn, events)
            finally:
                conn.remove_query_logger(log)
        counts.append(len(statements) - 2)  # BEGIN, COMMIT
    assert counts[1:] == [4, 4], counts


async def test_a_request_another_transaction_inserts_meanwhile_retries_the_batch(
    pools: tuple[asyncpg.Pool, asyncpg.Pool]
) -> None:
    """A request the batch read as new, then inserted by another consumer before the batch writes: the batch
    fails with a transient error (retried, then read again) rather than drop its fold of that request."""
    _, pool = pools
    request, pfmp = uuid.uuid4(), uuid.uuid4()
    event = PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=request, pfmp_id=pfmp,
                                       student_id=uuid.uuid4(), state="integrated", version=3, occurred_at=START)
    async with pool.acquire() as batch, pool.acquire() as other, batch.transaction():
        rows = await payment_facts_sql.requests_for_update(batch, [request])
        assert rows == {}  # new: to be inserted
        await facts.HANDLERS["PaymentRequestStateChanged"](other, event.model_copy(update={"version": 4}))
        fold = facts_batch.Fold(rows)
        fold.apply(event)
        with pytest.raises(payment_facts_sql.RequestInsertedMeanwhile) as raised:
            await payment_facts_sql.write_requests(batch, fold.rows.values(), existed=set())
        assert is_transient(raised.value)
        assert await other.fetchval("SELECT asp_version FROM payment_requests") == 4  # the other's row is kept


async def test_a_poisoned_event_is_dead_lettered_alone_and_the_rest_of_its_batch_applied(
    pools: tuple[asyncpg.Pool, asyncpg.Pool]
) -> None:
    """An ASP amount with a fraction of a cent fails the fold as it fails its handler: the consumer replays the
    batch event by event, so that event alone is dead-lettered and the others are applied as the fold would."""
    _, pool = pools
    student = uuid.uuid4()
    good, bad = uuid.uuid4(), uuid.uuid4()
    events = [PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=request, pfmp_id=uuid.uuid4(),
                                         student_id=student, state="paid", paid_amount=amount, version=4)
              for request, amount in ((good, Decimal("150.00")), (bad, Decimal("150.005")))]
    consumer = await consume_asp_batch(pool, events, student)
    assert (consumer.processed, consumer.dead_lettered) == (1, 1)
    async with pool.acquire() as conn:
        rows = {r["payment_request_id"]: r["paid_cents"] for r in await conn.fetch("SELECT * FROM payment_requests")}
    assert rows == {good: 15000}


async def consume_asp_batch(pool: asyncpg.Pool, events: Sequence[Envelope], student: uuid.UUID) -> EventConsumer:
    """The events as one batch of the ASP topic's records (keyed by `student`) through the real consumer."""
    records = []
    for offset, event in enumerate(events):
        body, headers = to_wire(event)
        records.append(SimpleNamespace(topic=ASP_EVENTS, partition=0, offset=offset, key=str(student).encode(),
                                       value=body, headers=list(headers.items())))
    consumer = EventConsumer(name=facts.CONSUMER, service="pfmp", pool=pool, registry=default_registry(),
                             handlers=facts.HANDLERS, batch_handler=facts_batch.on_batch)
    await consumer.process_batch(records)
    return consumer
