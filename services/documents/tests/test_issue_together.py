"""A batch built together (issue_together.py) gives what the per-document path gives, and in a bounded number
of statements. Two schemas hold the same queue of mixed documents; one is issued one document at a time
(DecisionIssuer(together=False), the reference), the other together; every table the issuer writes must end
the same, row for row (bar the fresh ids and signature times), and so must the outbox."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import DecisionWithdrawalRequested, SchoolingPriced, StudentRegistered
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters import postgres
from aplypro_documents.domain.errors import InvalidDocumentError
from aplypro_documents.service_layer import issue, issue_together
from aplypro_documents.service_layer.issue import DecisionIssuer
from aplypro_documents.service_layer.reissue import request_reissue
from aplypro_servicekit.db import create_pool, migrate

from .conftest import (
    UAI,
    Clock,
    Feed,
    identity_of,
    payment,
    pfmp_validated,
    priced,
    rib,
    schooling_opened,
    settings_for,
)

pytestmark = pytest.mark.integration

ATTEMPTS = 3
# What differs between two issues of the same document: fresh ids, the signature time and what hashes them.
VOLATILE = frozenset({"document_id", "content_sha256", "event_id", "occurred_at", "signed_at", "created_at",
                      "issued_at", "confirmed_at", "correlation_id", "traceparent", "tracestate", "dlt-timestamp", "dlt-exception-stacktrace"})


def issuer_for(pool: asyncpg.Pool, namespace: str, clock: Clock, batch_size: int, *, together: bool) -> DecisionIssuer:
    return DecisionIssuer(pool=pool, topic=settings_for(namespace).topic(DOCUMENTS_EVENTS), batch_size=batch_size,
                          attempts=ATTEMPTS, programmes=settings_for(namespace).programmes, clock=clock,
                          together=together)


@pytest.fixture
async def twin(pool: asyncpg.Pool, database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """A second schema migrated the same way; `copy_schema` fills it with the first one's rows."""
    schema = settings_for(namespace).db_schema("documents") + "_twin"
    other = await create_pool(database_url, schema)
    await migrate(other, schema, ["aplypro_servicekit", "aplypro_documents"])
    yield other
    async with other.acquire() as conn:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await other.close()


async def copy_schema(source: asyncpg.Pool, target: asyncpg.Pool) -> None:
    async with source.acquire() as conn:
        here = await conn.fetchval("SELECT current_schema()")
    async with target.acquire() as conn, conn.transaction():
        there = await conn.fetchval("SELECT current_schema()")
        tables = [r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' "
            "AND table_name <> 'schema_migrations'", there)]  # fmt: skip
        await conn.execute("TRUNCATE " + ", ".join(f"{there}.{t}" for t in tables))
        for table in tables:
            await conn.execute(f"INSERT INTO {there}.{table} OVERRIDING SYSTEM VALUE SELECT * FROM {here}.{table}")
        for r in await conn.fetch("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = $1 "
                                  "AND last_value IS NOT NULL", here):  # fmt: skip
            await conn.execute(f"SELECT setval('{there}.{r['sequencename']}', $1)", r["last_value"])


def stable(value: Any) -> Any:
    """The value without what differs between two issues of the same document (VOLATILE keys)."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


async def state(pool: asyncpg.Pool) -> dict[str, list[Any]]:
    """Every table the issuer writes, in a comparable form."""
    async with pool.acquire() as conn:
        documents = await conn.fetch(
            "SELECT kind, schooling_id, issued_to, number, version, input_sha256, render_payload, pfmp_numbers, "
            "layout_key, object_key, issue_seq FROM documents ORDER BY issue_seq")
        queue = await conn.fetch("SELECT schooling_id, kind, detail, attempts, last_error FROM render_queue "
                                 "ORDER BY schooling_id, kind")
        pfmps = await conn.fetch("SELECT pfmp_id, pfmp_number FROM pfmps ORDER BY pfmp_id")
        outbox = await conn.fetch("SELECT topic, key, payload, headers FROM outbox ORDER BY id")
    return {
        "documents": [stable({**dict(r), "render_payload": json.loads(r["render_payload"] or "null"),
                              "pfmp_numbers": json.loads(r["pfmp_numbers"] or "null")}) for r in documents],
        "queue": [dict(r) for r in queue],
        "pfmps": [dict(r) for r in pfmps],
        "outbox": [stable({**dict(r), "payload": json.loads(r["payload"]), "headers": json.loads(r["headers"])})
                   for r in outbox],
    }  # fmt: skip


def breaking(monkeypatch: pytest.MonkeyPatch, name: str, errors: dict[uuid.UUID, Exception]) -> None:
    """The content builder `name` raises errors[schooling] for these schoolings, in both paths."""
    original: Callable[..., Any] = getattr(issue_together, name)

    def broken(row: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if row["schooling_id"] in errors:
            raise errors[row["schooling_id"]]
        return original(row, *args, **kwargs)

    monkeypatch.setattr(issue_together, name, broken)
    monkeypatch.setattr(issue, name, broken)


async def student(feed: Feed, *, with_rib: bool = True) -> tuple[uuid.UUID, uuid.UUID]:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id,
                                 identity=identity_of("Roux", "Lina")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)), priced(student_id, schooling_id))
    if with_rib:
        await feed(rib(student_id))
    return student_id, schooling_id


async def paid(feed: Feed, student_id: uuid.UUID, schooling_id: uuid.UUID, amount: int,
               pfmp_id: uuid.UUID | None = None) -> uuid.UUID:
    """A validated PFMP (a new one unless given) and a payment request: an état liquidatif queued."""
    pfmp_id = pfmp_id or uuid.uuid4()
    await feed(pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
               payment(student_id, schooling_id, pfmp_id, 1, amount))
    return pfmp_id


def withdrawal(student_id: uuid.UUID, schooling_id: uuid.UUID) -> DecisionWithdrawalRequested:
    return DecisionWithdrawalRequested(producer="pfmp", schooling_id=schooling_id, student_id=student_id,
                                       reason="never_enrolled", requested_by="director-1")


def new_bareme(student_id: uuid.UUID, schooling_id: uuid.UUID) -> SchoolingPriced:
    return SchoolingPriced(producer="calculator", schooling_id=schooling_id, student_id=student_id, school_year=2025,
                           priced=True, daily_rate_cents=2000, yearly_cap_cents=80000)


async def queue(pool: asyncpg.Pool, schooling_id: uuid.UUID, kind: str, attempts: int = 0) -> None:
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO render_queue (schooling_id, kind, attempts) VALUES ($1, $2, $3) "
                           "ON CONFLICT (schooling_id, kind) DO UPDATE SET attempts = $3", schooling_id, kind, attempts)


async def drain(issuer: DecisionIssuer) -> list[int]:
    took = [await issuer.issue_batch()]
    while took[-1]:
        took.append(await issuer.issue_batch())
    return took


async def mixed_queue(rng: random.Random, feed: Feed, pool: asyncpg.Pool, reference: DecisionIssuer,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Issued first (one by one): DAs, some états liquidatifs, a retrait, an abrogation. Then queued, in
    numbers drawn from `rng`: every outcome the issuer knows, of every kind."""
    def some(low: int, high: int) -> range:
        return range(rng.randint(low, high))

    old = [await student(feed) for _ in range(rng.randint(24, 30))]
    await drain(reference)
    el_issued = old[:4]  # an état liquidatif issued each
    pfmps = {s: await paid(feed, *s, 15000) for s in el_issued}
    withdrawn, abrogated, closed = old[4], old[5], old[6]
    await feed(withdrawal(*withdrawn))
    newer = uuid.uuid4()
    await feed(schooling_opened(abrogated[0], newer, start=date(2026, 1, 5)), priced(abrogated[0], newer),
               schooling_opened(abrogated[0], abrogated[1], start=date(2025, 9, 1), end=date(2026, 1, 4)))
    await drain(reference)

    rule, other, last = InvalidDocumentError("broken"), ValueError("boom"), ValueError("boom, last attempt")
    # New DAs, a few refused by a rule; new states of old ones (unchanged, changed, at the version limit).
    fresh = [await student(feed, with_rib=False) for _ in some(4, 12)]
    breaking(monkeypatch, "attribution_from", {fresh[0][1]: rule})
    rest = old[13:]
    rng.shuffle(rest)
    changed, unchanged, at_limit = rest[:3], rest[3:6], rest[6]
    for s in changed:
        await feed(new_bareme(*s))
    async with pool.acquire() as conn:  # versions 2 to 9, as eight earlier reissues left them
        number = await conn.fetchval("SELECT number FROM documents WHERE schooling_id = $1", at_limit[1])
        for version in range(2, 10):
            await conn.execute(
                "INSERT INTO documents (document_id, kind, schooling_id, number, version, storage_ref, sha256, "
                "size_bytes, input_sha256) VALUES ($1, 'attribution', $2, $3, $4, 'elsewhere', 'x', 1, $5)",
                uuid.uuid4(), at_limit[1], number[:-1] + str(version), version, f"earlier-{version}")
    await feed(new_bareme(*at_limit))
    for s in [*changed, *unchanged, at_limit]:
        await request_reissue(pool, uai=UAI, school_year=2025, schooling_id=s[1])
    # États liquidatifs: new, changed (a new request; its PFMP keeps its number), unchanged, on a withdrawn DA
    # (issued, or queued with it: dropped; or queued with a retrait refused first: issued), refused.
    for s in rest[7:7 + len(some(1, 4))]:
        await paid(feed, *s, rng.choice((9000, 15000, 21000)))
    await paid(feed, *el_issued[0], 12000, pfmps[el_issued[0]])
    await queue(pool, el_issued[1][1], "liquidation")  # unchanged
    await paid(feed, *withdrawn, 15000)
    refused_retrait, queued_retrait = old[8], old[9]
    for s in (refused_retrait, queued_retrait):
        await feed(withdrawal(*s))
        await paid(feed, *s, 15000)
    breaking(monkeypatch, "withdrawal_from", {refused_retrait[1]: rule, old[10][1]: other, old[11][1]: last})
    breaking(monkeypatch, "liquidation_from", {el_issued[2][1]: rule})
    await paid(feed, *el_issued[2], 30000)
    # Retraits: new, refused (a rule at once; an error with attempts left; an error at the last attempt), twice.
    for s in (old[10], old[11]):
        await feed(withdrawal(*s))
    await queue(pool, old[11][1], "withdrawal", attempts=ATTEMPTS - 1)
    await queue(pool, withdrawn[1], "withdrawal")  # withdrawn already
    # Abrogations: due, not due (nothing newer), already issued.
    mover, second = old[12], uuid.uuid4()
    await feed(schooling_opened(mover[0], second, start=date(2026, 1, 5)), priced(mover[0], second),
               schooling_opened(mover[0], mover[1], start=date(2025, 9, 1), end=date(2026, 1, 4)))
    await feed(schooling_opened(closed[0], closed[1], start=date(2025, 9, 1), end=date(2026, 1, 4)))
    await queue(pool, closed[1], "abrogation")
    await queue(pool, abrogated[1], "abrogation")


@pytest.mark.parametrize(("seed", "set_path_fails"), [(1, False), (2, False), (3, False), (4, False), (5, False),
                                                     (6, False), (7, True)])
async def test_a_batch_built_together_ends_as_one_built_document_by_document(
    seed: int, set_path_fails: bool, feed: Feed, pool: asyncpg.Pool, twin: asyncpg.Pool, namespace: str,
    clock: Clock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`set_path_fails`: the batch's last statement fails for good, so each batch is built again one by one."""
    rng = random.Random(seed)
    if set_path_fails:
        async def failing(conn: Any, keys: Any) -> None:
            raise RuntimeError("a statement of the set path failed")

        monkeypatch.setattr(postgres, "drop_many_from_queue", failing)
    await mixed_queue(rng, feed, pool, issuer_for(pool, namespace, clock, 50, together=False), monkeypatch)
    await copy_schema(pool, twin)
    assert {row["kind"] for row in (await state(pool))["queue"]} == {"attribution", "liquidation", "withdrawal", "abrogation"}
    assert await state(twin) == await state(pool)

    batch_size = rng.choice((3, 5, 8, 13, 50))
    one_by_one = issuer_for(pool, namespace, clock, batch_size, together=False)
    together = issuer_for(twin, namespace, clock, batch_size, together=True)
    assert await drain(together) == await drain(one_by_one)
    assert (together.issued, together.unchanged) == (one_by_one.issued, one_by_one.unchanged)
    expected, got = await state(pool), await state(twin)
    for table in expected:
        for index, (row, reference) in enumerate(zip(got[table], expected[table], strict=False)):
            assert row == reference, (table, index)
        assert len(got[table]) == len(expected[table]), table
    # The mix reached the outcomes it is made of: an unchanged reissue skipped, six documents dead-lettered
    # (four rules, an error retried to its last attempt, one at its last attempt), the queue emptied.
    assert one_by_one.unchanged >= 1
    assert sum(r["topic"].endswith(".dlt") for r in expected["outbox"]) == 6
    assert expected["queue"] == []


@pytest.fixture
async def counted(database_url: str, namespace: str, pool: asyncpg.Pool) -> AsyncIterator[tuple[asyncpg.Pool, list[str]]]:
    """A pool on the test's schema whose connection logs each statement it runs (asyncpg's query logger)."""
    statements: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda query: statements.append(query.query))

    logged = await asyncpg.create_pool(database_url, min_size=1, max_size=1, init=init, server_settings={
        "search_path": settings_for(namespace).db_schema("documents")})  # fmt: skip
    yield logged, statements
    await logged.close()


# What asyncpg runs by itself the first time a connection meets a type: not the issuer's statements.
ASYNCPG_INTROSPECTION = ("typeinfo_tree", "'jit'")


async def statements_of_a_batch(issuer: DecisionIssuer, statements: list[str], expected: int) -> int:
    """The statements a batch runs once its documents are claimed (the claims follow the queue's shape:
    classes, establishments, fair shares; the rest is what building and recording cost)."""
    statements.clear()
    assert await issuer.issue_batch() == expected
    return sum(not any(word in statement for word in ("SKIP LOCKED", *ASYNCPG_INTROSPECTION))
               for statement in statements)


async def test_a_batch_runs_a_bounded_number_of_statements_whatever_its_size(
    feed: Feed, pool: asyncpg.Pool, counted: tuple[asyncpg.Pool, list[str]], namespace: str, clock: Clock,
) -> None:
    """A class's DAs with one reissue skipped unchanged, then an establishment's états liquidatifs (each with a
    new PFMP number): the same statements for 8 documents as for 40, once claimed. One by one, each document
    costs its savepoint and its reads."""
    logged, statements = counted
    anchor = await student(feed)
    await drain(issuer_for(pool, namespace, clock, 10, together=True))
    counts: dict[tuple[bool, int], tuple[int, int]] = {}
    for together in (True, False):
        for size in (8, 40):
            issuer = issuer_for(logged, namespace, clock, 100, together=together)
            students = [await student(feed) for _ in range(size)]
            await request_reissue(pool, uai=UAI, school_year=2025, schooling_id=anchor[1])  # skipped: unchanged
            das = await statements_of_a_batch(issuer, statements, size + 1)
            for s in students:
                await paid(feed, *s, 15000)
            els = await statements_of_a_batch(issuer, statements, size)
            counts[together, size] = das, els
    assert counts[True, 8] == counts[True, 40], counts
    das, els = counts[True, 40]
    assert das <= 12, counts  # BEGIN, COMMIT and the pool's reset (4) included
    assert els <= 14, counts
    # One by one: a savepoint (2) and a read per DA, a savepoint and four statements per état liquidatif.
    assert counts[False, 40][0] >= das + 3 * 32, counts
    assert counts[False, 40][1] >= els + 5 * 32, counts
