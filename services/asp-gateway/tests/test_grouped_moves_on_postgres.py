"""A file's moves as PaymentRequestsMoved groups (service_layer/moves.py): the same build, upload and return give,
read as their parts, exactly the single events the gateway published before, in the same order for each student;
each group lands on the partition of every one of its students."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.entrypoints.service import SCHEMA, build_options
from aplypro_asp_gateway.service_layer import moves, projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_asp_gateway.service_layer.moves import Grouping, by_partition, move_rows
from aplypro_contracts import (
    MOVES_PER_EVENT,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestsMoved,
    PaymentRequestStateChanged,
    default_registry,
)
from aplypro_contracts.reasons import REASONS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.record_size import max_record_bytes, record_size

from . import conftest
from .conftest import register, request, settings_for
from .ingest_world import Sent, ingest, integrations, paid, payments
from .published import outbox_events, partition_of
from .return_samples import payment

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
PAYMENTS = "renvoi_paiement_APLYPROTEST_20260605.xml"


async def a_files_moves(pool: asyncpg.Pool, options: BuildOptions) -> None:
    """Five students: three built into a file (`ready`), uploaded (`sent`), integrated, then one paid and one
    unpaid; two without a RIB (`held`)."""
    for n in range(5):
        student = await register(pool, n, with_rib=n < 3)
        await conftest.feed(pool, projection.on_payment_requested, request(*student))
    result = await build_payment_file(pool, options, NOW)
    assert (result.records, result.blocked) == (3, 2)
    assert result.file_name is not None
    rows = await pool.fetch("SELECT payment_request_id, record_id, pfmp_id, pfmp_number FROM file_records "
                            "ORDER BY record_id")
    sent = [Sent(r["payment_request_id"], r["record_id"], r["pfmp_id"], r["pfmp_number"], n)
            for n, r in enumerate(rows)]
    [answer] = await ingest(pool, options, integrations(result.file_name, sent))
    assert answer.applied == 3
    [returned] = await ingest(pool, options, payments(PAYMENTS, paid(sent[0]), payment(
        "INVALIDE", sent[1].prestation, code="RJT", label="Compte clos")))
    assert returned.applied == 2


@pytest.fixture
async def twin(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """A second schema of its own, for the same moves published the other way."""
    namespace = f"t{uuid.uuid4().hex[:10]}."
    schema = settings_for(namespace).db_schema(SCHEMA)
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_asp_gateway"])
    yield pool, namespace
    await pool.close()


def _content(event: Any) -> dict[str, Any]:
    content: dict[str, Any] = event.model_dump(exclude={"event_id", "occurred_at"})
    return content


def _by_student(events: list[Any]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        out[event.student_id].append(_content(event))
    return dict(out)


# One partition: every move of a step in one group (or cut at the limit), whatever the students' ids.
@pytest.mark.parametrize(("limit", "partitions"), [(MOVES_PER_EVENT, 4), (MOVES_PER_EVENT, 1), (2, 1), (1, 4)],
                         ids=["by partition", "one group a step", "cut at the limit", "one request a group"])
async def test_groups_read_as_their_parts_are_the_single_events_of_the_same_moves(
    pool: asyncpg.Pool, options: BuildOptions, twin: tuple[asyncpg.Pool, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, limit: int, partitions: int,
) -> None:
    monkeypatch.setattr(moves, "MOVES_PER_EVENT", limit)
    options = replace(options, grouping=Grouping(partitions=partitions))
    fed: list[tuple[Any, Any]] = []
    real_feed = conftest.feed

    async def recorded(into: asyncpg.Pool, handler: Any, event: Any) -> None:
        fed.append((handler, event))
        await real_feed(into, handler, event)

    monkeypatch.setattr(conftest, "feed", recorded)
    await a_files_moves(pool, options)

    # The very same events fed to a gateway publishing single events, the same file built at the same instant.
    single_pool, namespace = twin
    single = build_options(settings_for(namespace, outbox_dir=tmp_path / "single", grouped_events=False))
    assert not single.grouping.grouped
    replay = iter(fed)
    monkeypatch.setattr(conftest, "feed", lambda into, handler, event: real_feed(into, *next(replay)))
    await a_files_moves(single_pool, single)
    assert next(replay, None) is None  # every event fed again, none left

    grouped_rows = await pool.fetch("SELECT headers->>'event-type' AS t FROM outbox")
    single_rows = await single_pool.fetch("SELECT headers->>'event-type' AS t FROM outbox")
    assert {r["t"] for r in grouped_rows} == {"PaymentRequestsMoved"}  # build, upload and return: all grouped
    assert "PaymentRequestsMoved" not in {r["t"] for r in single_rows}
    grouped, singles = await outbox_events(pool), await outbox_events(single_pool)
    assert len(singles) == 2 + 3 * 3 + 2  # held 2; ready, sent, integrated 3 each; paid and unpaid
    assert Counter(type(e) for e in singles) == Counter(
        {PaymentRequestHeld: 2, PaymentRequestSent: 3, PaymentRequestStateChanged: 8})
    # Field for field (event_id and occurred_at aside), in the same order for each student.
    assert _by_student(grouped) == _by_student(singles)
    assert len(grouped) == len(singles)
    if partitions == 1:  # held 2, ready 3, sent 3, integrated 3, paid and unpaid 2, cut at the limit
        assert len(grouped_rows) == sum(-(-n // limit) for n in (2, 3, 3, 3, 2))
    if limit == 1:
        assert len(grouped_rows) == len(single_rows)


async def test_each_group_lands_on_the_partition_of_every_one_of_its_students_and_each_request_moves_once(
    pool: asyncpg.Pool, options: BuildOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moves, "MOVES_PER_EVENT", 2)
    await a_files_moves(pool, options)
    rows = await pool.fetch("SELECT key, payload, headers->>'event-type' AS t, headers->>'schema-version' AS v "
                            "FROM outbox ORDER BY id")
    groups = [_group(r["payload"], r["t"], r["v"]) for r in rows]
    partitions = options.grouping.partitions
    for row, group in zip(rows, groups, strict=True):
        assert 1 <= len(group.requests) <= 2
        assert row["key"] in {str(r.student_id).encode() for r in group.requests}
        assert {partition_of(r.student_id, partitions) for r in group.requests} == {partition_of(row["key"],
                                                                                                 partitions)}
    # A request's move is in one group only: held or ready at the build, then sent, integrated, paid or unpaid.
    moved = Counter((r.payment_request_id, r.state) for g in groups for r in g.requests)
    assert set(moved.values()) == {1}
    assert Counter(state for _, state in moved) == Counter(
        {"held": 2, "ready": 3, "sent": 3, "integrated": 3, "paid": 1, "unpaid": 1})


def _group(body: bytes, event_type: str, version: str) -> PaymentRequestsMoved:
    group = default_registry().parse(body, event_type.encode(), version.encode())
    assert isinstance(group, PaymentRequestsMoved)
    return group


def _ready(student_id: uuid.UUID) -> PaymentRequestStateChanged:
    return PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(),
                                      student_id=student_id, state="ready", rib_id=uuid.uuid4(),
                                      correlation_id=uuid.uuid4(), causation_id=uuid.uuid4(), version=1)


def test_a_partitions_requests_are_cut_in_groups_of_at_most_the_limit_in_their_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(moves, "MOVES_PER_EVENT", 3)
    students = [uuid.uuid4() for _ in range(12)]
    events = [_ready(students[i % 12]) for i in range(40)]  # some students with several requests
    chunks = by_partition(events, 4)
    assert all(1 <= len(c) <= 3 for c in chunks)
    lanes: dict[int, list[Any]] = defaultdict(list)
    for chunk in chunks:
        [lane] = {partition_of(e.student_id, 4) for e in chunk}
        lanes[lane].extend(chunk)
    for lane, kept in lanes.items():
        assert kept == [e for e in events if partition_of(e.student_id, 4) == lane]  # nothing lost nor reordered
    # Only a partition's last chunk may be short.
    sizes = Counter(partition_of(c[0].student_id, 4) for c in chunks)
    assert sum(len(c) for c in chunks) == 40
    assert all(n == -(-len(lanes[lane]) // 3) for lane, n in sizes.items())

    rows = move_rows("t", events, Grouping(partitions=4))
    parts = [p for row in rows for p in _group(row.payload, row.headers["event-type"],
                                                 row.headers["schema-version"]).parts()]
    assert [_content(p) for p in parts] == [_content(e) for c in chunks for e in c]
    assert len(rows) == len(chunks)


def test_the_setting_switches_groups_off_and_groups_follow_the_shared_partition_count(
    monkeypatch: pytest.MonkeyPatch, namespace: str
) -> None:
    assert settings_for(namespace).grouped_events is True  # on by default
    monkeypatch.setenv("APLYPRO_ASP_GROUPED_EVENTS", "false")
    monkeypatch.setenv("APLYPRO_TOPIC_PARTITIONS", "12")
    assert build_options(settings_for(namespace)).grouping == Grouping(partitions=12, grouped=False)
    single = move_rows("t", [_ready(uuid.uuid4()), _ready(uuid.uuid4())], Grouping(partitions=12, grouped=False))
    assert [r.headers["event-type"] for r in single] == ["PaymentRequestStateChanged"] * 2


def test_requests_held_for_every_reason_are_cut_so_that_no_group_passes_half_the_record_limit() -> None:
    student = uuid.uuid4()  # one partition, one student: only the weight cuts
    events = [PaymentRequestHeld(producer="asp-gateway", payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(),
                                 student_id=student, reasons=tuple(REASONS), correlation_id=uuid.uuid4(),
                                 causation_id=uuid.uuid4(), version=2) for _ in range(MOVES_PER_EVENT)]
    rows = move_rows("t", events, Grouping(partitions=4))
    assert len(rows) > 1
    assert all(record_size(row) <= max_record_bytes() // 2 + 2_000 for row in rows)  # the envelope and key beside
    parts = [p for row in rows for p in _group(row.payload, row.headers["event-type"],
                                                 row.headers["schema-version"]).parts()]
    assert [_content(p) for p in parts] == [_content(e) for e in events]  # nothing lost nor reordered
