"""How the issuer shares its batches, on the real PostgreSQL: fair between kinds, a class at a time for DAs, an
establishment at a time for états liquidatifs, and lanes side by side that issue each document once. The PDF bytes are a stub here (test_render*.py render)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import Establishment, StudentRegistered
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.service_layer.issue import shares
from aplypro_documents.service_layer.render import IssueThenRender
from prometheus_client import REGISTRY

from .conftest import (
    Clock,
    Enrol,
    Feed,
    announced,
    identity_of,
    payment,
    pfmp_validated,
    priced,
    rib,
    schooling_opened,
    settings_for,
)

pytestmark = pytest.mark.integration


def stub_render(payloads: list[dict[str, Any]]) -> list[bytes]:
    time.sleep(0.02)  # a render takes a while: lanes overlap
    return [b"%PDF-1.7 stub " + payload["kind"].encode() for payload in payloads]


def issuer_of(pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock, batch_size: int) -> IssueThenRender:
    settings = settings_for(namespace, storage_dir=tmp_path / "documents")
    return IssueThenRender(pool=pool, storage=LocalStorage(settings.storage_dir), executor=None,
                          topic=settings.topic(DOCUMENTS_EVENTS), batch_size=batch_size, attempts=3,
                          render=stub_render, programmes=settings.programmes, clock=clock)  # fmt: skip


async def kinds_issued(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT kind, count(*) AS n FROM documents GROUP BY kind")
    return {r["kind"]: r["n"] for r in rows}


async def with_etats_liquidatifs_due(feed: Feed, issuer: IssueThenRender, count: int) -> None:
    """Students whose DA is issued and whose first PFMP has a payment request: their états liquidatifs are queued."""
    students = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range(count)]
    for student_id, schooling_id, _ in students:
        await feed(StudentRegistered(producer="students", version=1, student_id=student_id,
                                     identity=identity_of("Durand", "Léa")),
                   schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)),
                   priced(student_id, schooling_id), rib(student_id))  # fmt: skip
    while await issuer.issue_batch():  # their DAs
        pass
    for student_id, schooling_id, pfmp_id in students:
        await feed(pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
                   payment(student_id, schooling_id, pfmp_id, 1, 15000))


def test_shares_split_a_batch_evenly() -> None:
    assert shares(50, 4) == [13, 13, 12, 12]
    assert shares(2, 4) == [1, 1, 0, 0]
    assert sum(shares(97, 4)) == 97


async def test_a_backlog_of_etats_liquidatifs_leaves_room_for_decisions(
    feed: Feed, enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """Four états liquidatifs are due and two new DAs wait: every batch of four carries both kinds. (Before, the
    issuer took the états liquidatifs first and filled the batch with them: DAs waited for the backlog.)"""
    issuer = issuer_of(pool, namespace, tmp_path, clock, batch_size=4)
    await with_etats_liquidatifs_due(feed, issuer, 6)
    for name in ("Martin", "Petit"):
        await enrol(name, "Hugo", "TLE PRO MODE")
    before = await kinds_issued(pool)
    assert await issuer.issue_batch() == 4
    after = await kinds_issued(pool)
    assert after["attribution"] - before["attribution"] == 2
    assert after["liquidation"] == 2
    # And the other way round: a DA backlog leaves room for the états liquidatifs.
    for index in range(8):
        await enrol(f"Simon{index}", "Zoé", "TLE PRO MODE")
    assert await issuer.issue_batch() == 4
    assert (await kinds_issued(pool))["liquidation"] == 4


def rendered_count(kind: str) -> float:
    return REGISTRY.get_sample_value("aplypro_documents_render_seconds_count", {"kind": kind}) or 0.0


async def test_render_latency_is_observed_once_per_document_issued_per_kind(
    feed: Feed, enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """The /metrics histogram of render time: one observation per document issued, labelled by its kind."""
    issuer = issuer_of(pool, namespace, tmp_path, clock, batch_size=4)
    before = {kind: rendered_count(kind) for kind in ("attribution", "liquidation")}
    await with_etats_liquidatifs_due(feed, issuer, 3)
    await enrol("Martin", "Hugo", "TLE PRO MODE")
    while await issuer.issue_batch():
        pass
    issued = await kinds_issued(pool)
    assert issued == {"attribution": 4, "liquidation": 3}
    assert {kind: rendered_count(kind) - before[kind] for kind in before} == {"attribution": 4, "liquidation": 3}
    seconds = REGISTRY.get_sample_value("aplypro_documents_render_seconds_sum", {"kind": "attribution"}) or 0.0
    assert seconds > 0  # the stub render sleeps 20 ms a batch


async def test_a_kind_alone_in_the_queue_fills_whole_batches(
    enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    issuer = issuer_of(pool, namespace, tmp_path, clock, batch_size=5)
    for index in range(7):
        await enrol(f"Leroy{index}", "Inès", "TLE PRO MODE")
    assert await issuer.issue_batch() == 5
    assert await issuer.issue_batch() == 2


async def test_decisions_are_claimed_a_class_at_a_time(
    enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """Two establishments' students queued in turns: a batch takes one establishment's class, so the renderer
    lays out the class's shared page once (stamping.py), not once per student of a mixed batch."""
    schools = [Establishment(uai=uai, name=f"LP {uai}", head_name="Claire Fontaine") for uai in ("0690001A", "0690002B")]
    for index in range(12):
        await enrol(f"Moreau{index}", "Noah", "TLE PRO MODE", school=schools[index % 2])
    issuer = issuer_of(pool, namespace, tmp_path, clock, batch_size=6)
    for _ in range(2):
        assert await issuer.issue_batch() == 6
        async with pool.acquire() as conn:
            uais = await conn.fetch("SELECT s.establishment->>'uai' AS uai, count(*) AS n FROM documents d "
                                    "JOIN schoolings s USING (schooling_id) GROUP BY 1")
        assert all(r["n"] % 6 == 0 for r in uais), [dict(r) for r in uais]


async def test_etats_liquidatifs_are_claimed_an_establishment_at_a_time(
    feed: Feed, enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """Two establishments' états liquidatifs queued in turns: a batch takes one establishment's (the oldest queued
    first), so the renderer lays out their section pages' shared layout once (stamping.py), not once per student."""
    schools = [Establishment(uai=uai, name=f"LP {uai}", head_name="Claire Fontaine") for uai in ("0690001A", "0690002B")]
    students = []
    for index in range(8):
        school = schools[index % 2]
        student_id, schooling_id = await enrol(f"Petit{index}", "Lou", "TLE PRO MODE", school=school)
        await feed(rib(student_id).model_copy(update={"establishment_uai": school.uai}))
        students.append((student_id, schooling_id))
    issuer = issuer_of(pool, namespace, tmp_path, clock, batch_size=4)
    while await issuer.issue_batch():  # their DAs
        pass
    for student_id, schooling_id in students:
        pfmp_id = uuid.uuid4()
        await feed(pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
                   payment(student_id, schooling_id, pfmp_id, 1, 15000))  # fmt: skip
    for batch in range(2):
        assert await issuer.issue_batch() == 4
        async with pool.acquire() as conn:
            uais = await conn.fetch("SELECT s.establishment->>'uai' AS uai, count(*) AS n FROM documents d "
                                    "JOIN schoolings s USING (schooling_id) WHERE d.kind = 'liquidation' GROUP BY 1")
        assert sorted((r["uai"], r["n"]) for r in uais) == [(school.uai, 4) for school in schools[: batch + 1]]


async def test_lanes_side_by_side_issue_each_document_once(
    feed: Feed, enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """Three lanes drain the queue at once (the service's set-up with two render workers): each queued document
    is issued exactly once, at version 1, with one DocumentReady; nothing is left queued."""
    issuer = issuer_of(pool, namespace, tmp_path, clock, batch_size=4)
    await with_etats_liquidatifs_due(feed, issuer, 5)
    for index in range(20):
        await enrol(f"Garcia{index}", "Jules", "TLE PRO MODE")

    async def lane() -> None:
        idle = 0
        while idle < 3:
            idle = 0 if await issuer.issue_batch() else idle + 1
            await asyncio.sleep(0)

    await asyncio.gather(lane(), lane(), lane())
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM render_queue") == 0
        rows = await conn.fetch("SELECT schooling_id, kind, version, number FROM documents")
    assert len(rows) == 25 + 5  # 25 DAs, 5 états liquidatifs
    assert len({(r["schooling_id"], r["kind"]) for r in rows}) == len(rows)
    assert {r["version"] for r in rows} == {1}
    assert len({r["number"] for r in rows if r["kind"] == "attribution"}) == 25
    events = await announced(pool)
    assert len(events) == len(rows)
    assert len({e["document_id"] for e in events}) == len(rows)
