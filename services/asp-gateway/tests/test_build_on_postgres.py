"""One build on the real PostgreSQL: handlers fed directly, then one payment file, `sent` states and events."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo
from aplypro_asp_gateway.domain.model import Blocked
from aplypro_asp_gateway.service_layer import build, projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file, write_pending_files
from aplypro_contracts import PaymentRequestSent, RibRecorded
from aplypro_contracts.topics import ASP_EVENTS
from aplypro_servicekit.statistics import refresh_stale_statistics
from lxml import etree
from structlog.testing import capture_logs

from .conftest import IBANS, NS, UAI, add_rib, feed, register, request
from .published import outbox_events, outbox_parts, partition_of

pytestmark = pytest.mark.integration


async def test_one_build_sends_the_ready_requests_in_one_file_and_keeps_the_others_blocked(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # Three students with a RIB, one without (two PFMPs of one student: test_dossier_created_once_on_postgres.py).
    first, second, no_rib = await register(pool, 0), await register(pool, 1), await register(pool, 2, with_rib=False)
    third = await register(pool, 2)
    ready = [request(*first), request(*third, rank=2), request(*second)]
    blocked = request(*no_rib)
    for event in [*ready, blocked, ready[0]]:  # the last one is a redelivery: no second request
        await feed(pool, projection.on_payment_requested, event)
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'PaymentRequested'") == 1

    with capture_logs() as logs:
        result = await build_payment_file(pool, options)

    # Exactly one file, one ENREGISTREMENT per ready request.
    files = sorted(options.outbox_dir.iterdir())
    assert [f.name for f in files] == [result.file_name]
    root = etree.fromstring(files[0].read_bytes())
    assert len(root.findall("f:ENREGISTREMENTS/f:ENREGISTREMENT", NS)) == 3
    async with pool.acquire() as conn:
        rows = {r["payment_request_id"]: r for r in await conn.fetch("SELECT * FROM payment_requests")}
        outbox = await outbox_parts(conn, "PaymentRequestSent")
        held = await outbox_events(conn, "PaymentRequestHeld")
    assert sorted(e.get("idEnregistrement") for e in root.iter("{*}ENREGISTREMENT")) == sorted(
        str(rows[e.payment_request_id]["record_id"]) for e in ready)
    # The ready requests are sent with the file's name and the RIB used.
    for event in ready:
        assert rows[event.payment_request_id]["state"] == "sent"
        assert rows[event.payment_request_id]["file_name"] == result.file_name
        assert rows[event.payment_request_id]["rib_id"] is not None
    # The one without RIB stays pending with its reason.
    assert rows[blocked.payment_request_id]["state"] == "pending"
    assert rows[blocked.payment_request_id]["blocking_reasons"] == ["missing_rib"]
    # ... and the other services are told, with the reason (its words: aplypro_contracts.reasons).
    assert [(e.payment_request_id, e.reasons) for e in held] == [
        (blocked.payment_request_id, ("missing_rib",))]
    # One PaymentRequestSent per sent request, on the student's partition, caused by the request.
    sent: list[PaymentRequestSent] = [p.event for p in outbox]
    assert {p.topic for p in outbox} == {options.topic}
    assert options.topic.endswith(ASP_EVENTS)
    assert sorted(str(e.payment_request_id) for e in sent) == sorted(str(e.payment_request_id) for e in ready)
    by_id = {e.payment_request_id: e for e in ready}
    for part, sent_event in zip(outbox, sent, strict=True):
        partitions = options.grouping.partitions
        assert partition_of(part.key, partitions) == partition_of(sent_event.student_id, partitions)
        assert sent_event.file_name == result.file_name
        assert sent_event.causation_id == by_id[sent_event.payment_request_id].event_id
        assert sent_event.version == 2  # the gateway's own sequence about the request: `ready` at the build was 1
    # No personal data in the logs.
    flat = json.dumps(logs, default=str)
    assert "ZORGLUB" not in flat
    assert not any(iban in flat or iban[4:] in flat for iban in IBANS)
    assert "2008" not in flat

    # Running the build again writes no new file and sends nothing.
    again = await build_payment_file(pool, options)
    assert (again.file_name, again.records) == (None, 0)
    assert sorted(options.outbox_dir.iterdir()) == files
    async with pool.acquire() as conn:
        assert await requests_repo.status(conn) == {
            "pending": 1, "blocked": {"missing_rib": 1}, "sent": 3, "files": 1, "files_not_written": 0,
            "files_handover_unconfirmed": 0, "sent_after_withdrawal": 0}


async def test_requests_read_in_chunks_are_each_read_whole_and_in_order(
    pool: asyncpg.Pool, options: BuildOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two ids a statement: the three complete requests and the two without RIB span three chunks.
    monkeypatch.setattr(requests_repo, "READ_CHUNK", 2)
    complete = [request(*await register(pool, n)) for n in range(3)]
    others = [request(*await register(pool, n, with_rib=False)) for n in (3, 4)]
    for event in [*complete, *others]:
        await feed(pool, projection.on_payment_requested, event)

    reads: list[int] = []

    class Counting:
        """The connection, counting the ids of each read statement."""

        def __init__(self, conn: Any) -> None:
            self.conn = conn

        def __getattr__(self, name: str) -> Any:
            return getattr(self.conn, name)

        async def fetch(self, query: str, *args: Any) -> Any:
            if query == requests_repo._READ:
                reads.append(len(args[0]))
            return await self.conn.fetch(query, *args)

    async with pool.acquire() as conn, conn.transaction():
        read = await requests_repo.pending_requests(cast(Any, Counting(conn)), limit=7000)
    assert reads == [2, 2, 1]
    assert [r.payment_request_id for r in read] == [e.payment_request_id for e in [*complete, *others]]
    assert [r.rib is not None for r in read] == [True, True, True, False, False]
    assert all(r.student is not None and r.schooling is not None and r.da_number for r in read)

    result = await build_payment_file(pool, options)
    assert (result.records, result.blocked) == (3, 2)


async def test_the_build_refreshes_the_statistics_of_the_tables_it_reads_before_its_transaction(
    pool: asyncpg.Pool, options: BuildOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bool, str, tuple[str, ...]]] = []

    async def spy(conn: Any, schema: str, *, tables: Any = None, **thresholds: Any) -> list[str]:
        seen.append((conn.is_in_transaction(), schema, tuple(tables)))
        return await refresh_stale_statistics(conn, schema, tables=tables, **thresholds)

    monkeypatch.setattr(build, "refresh_stale_statistics", spy)
    await build_payment_file(pool, options)

    # Outside the build's transaction (ANALYZE's lock would be held to its end), on the gateway's own schema.
    assert seen == [(False, options.schema, requests_repo.BUILD_TABLES)]
    tables = {r["tablename"] for r in await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1",
                                                         options.schema)}
    assert set(requests_repo.BUILD_TABLES) <= tables  # a misspelt name would be skipped without a word


async def test_blocked_requests_are_written_only_when_their_reasons_or_recheck_change(pool: asyncpg.Pool) -> None:
    students = [await register(pool, n, with_rib=False) for n in range(3)]
    events = [request(*s) for s in students]
    for event in events:
        await feed(pool, projection.on_payment_requested, event)
    new, same_kept, same_cleared = (e.payment_request_id for e in events)
    await pool.execute("UPDATE payment_requests SET blocking_reasons = '{missing_rib}' "
                       "WHERE payment_request_id = ANY($1::uuid[])", [same_kept, same_cleared])

    async with pool.acquire() as conn, conn.transaction():
        held = await requests_repo.record_blocked(conn, [
            Blocked(new, ("missing_rib",)),  # new reasons: written, its version moves on, a Held event
            Blocked(same_kept, ("missing_rib",), recheck=True),  # nothing changes: not written at all
            Blocked(same_cleared, ("missing_rib",)),  # same reasons, waits for a change now: recheck cleared
        ])
        rows = {r["payment_request_id"]: r for r in await conn.fetch(
            "SELECT payment_request_id, blocking_reasons, recheck, event_version, xmin::text::bigint AS xmin "
            "FROM payment_requests")}

    assert [r["payment_request_id"] for r in held] == [new]
    assert (rows[new]["blocking_reasons"], rows[new]["recheck"], rows[new]["event_version"]) == (
        ["missing_rib"], False, rows[same_kept]["event_version"] + 1)
    assert rows[same_kept]["recheck"] is True
    assert rows[same_kept]["xmin"] != rows[new]["xmin"]  # untouched by the statement's transaction
    assert (rows[same_cleared]["recheck"], rows[same_cleared]["event_version"]) == (
        False, rows[same_kept]["event_version"])


async def test_a_blocked_request_leaves_in_a_new_file_once_its_rib_arrives(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    student_id, schooling_id = await register(pool, 2, with_rib=False)
    waiting = request(student_id, schooling_id)
    await feed(pool, projection.on_payment_requested, waiting)
    assert (await build_payment_file(pool, options)).blocked == 1

    await add_rib(pool, student_id, 2)
    result = await build_payment_file(pool, options)

    assert (result.records, result.blocked) == (1, 0)
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, blocking_reasons, file_name FROM payment_requests")
    assert row is not None
    assert (row["state"], row["blocking_reasons"], row["file_name"]) == ("sent", [], result.file_name)


async def test_a_file_committed_but_not_written_is_written_from_its_stored_bytes(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    await feed(pool, projection.on_payment_requested, request(*await register(pool, 0)))
    result = await build_payment_file(pool, options)
    assert result.file_name is not None
    path = options.outbox_dir / result.file_name
    content = path.read_bytes()
    # A crash right after the commit: the row exists, the file does not.
    path.unlink()
    async with pool.acquire() as conn:
        await conn.execute("UPDATE asp_files SET written_at = NULL, staged_at = NULL")
        assert await write_pending_files(conn, options.outbox_dir, topic=options.topic,
                                         grouping=options.grouping) == [result.file_name]
    assert path.read_bytes() == content


async def test_an_older_rib_read_late_never_replaces_the_newer_one_and_is_counted(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    student_id, schooling_id = await register(pool, 0, with_rib=False)
    newer, older = (RibRecorded(
        producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
        owner_type="personal", holder_name="ZORGLUB0 Léa", iban=iban, bic="AGRIFRPP", version=version)
        for iban, version in ((IBANS[0], 2), (IBANS[1], 1)))
    # The corrected RIB (version 2) is read first; the one it replaced (version 1) arrives late, stamped by
    # a students instance whose clock runs ahead: its occurred_at is the later one.
    await feed(pool, projection.on_rib_recorded, newer)
    await feed(pool, projection.on_rib_recorded, older.model_copy(
        update={"occurred_at": newer.occurred_at.replace(year=newer.occurred_at.year + 1)}))
    await feed(pool, projection.on_payment_requested, request(student_id, schooling_id))
    result = await build_payment_file(pool, options)
    # The payment goes to the newer bank account; the stale event is counted.
    assert result.file_name is not None
    content = (options.outbox_dir / result.file_name).read_bytes()
    assert IBANS[0][4:].encode() in content
    assert IBANS[1][4:].encode() not in content
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'RibRecorded'") == 1
    assert await pool.fetchval("SELECT version FROM ribs") == 2
