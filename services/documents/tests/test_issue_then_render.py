"""Issue, then render (issue 12), on the real PostgreSQL: a document's number and content are fixed when it is
issued (DocumentIssued), its PDF comes later from that frozen content (DocumentReady), and nothing is lost in
between: not by a stop, not by a poison payload, not behind a backlog of another kind."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest
from aplypro_contracts import StudentRegistered
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.entrypoints.gauges import documents_gauges
from aplypro_documents.entrypoints.service import build_spec
from aplypro_documents.rendering.pool import render_batch
from aplypro_documents.service_layer.issue import DecisionIssuer
from aplypro_documents.service_layer.lanes import run_all
from aplypro_documents.service_layer.render import DocumentRenderer

from .conftest import (
    Clock,
    Enrol,
    Feed,
    announced,
    identity_of,
    payment,
    pdf_text,
    pfmp_validated,
    priced,
    rib,
    schooling_opened,
    settings_for,
)
from .test_class_batch import invoke

pytestmark = pytest.mark.integration


def issuer_and_renderer(pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock, *, batch_size: int = 50,
                        attempts: int = 3, render: Any = render_batch) -> tuple[DecisionIssuer, DocumentRenderer]:
    settings = settings_for(namespace, storage_dir=tmp_path / "documents")
    topic = settings.topic(DOCUMENTS_EVENTS)
    return (DecisionIssuer(pool=pool, topic=topic, batch_size=batch_size, attempts=attempts,
                           programmes=settings.programmes, clock=clock),
            DocumentRenderer(pool=pool, storage=LocalStorage(settings.storage_dir), executor=None, topic=topic,
                             batch_size=batch_size, attempts=attempts, render=render))  # fmt: skip


async def rows_of(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch("SELECT * FROM documents ORDER BY issue_seq")]


async def test_the_number_is_fixed_at_issue_and_the_pdf_recorded_when_rendered(
    enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    student_id, schooling_id = await enrol("Martin", "Léa", "TLE PRO MODE")
    issuer, renderer = issuer_and_renderer(pool, namespace, tmp_path, clock)
    assert await issuer.issue_batch() == 1
    # Issued: numbered, content frozen, DocumentIssued sent; no PDF yet, so no DocumentReady.
    [issued] = await rows_of(pool)
    assert issued["sha256"] is None
    assert issued["storage_ref"] is None
    assert issued["rendered_at"] is None
    assert issued["number"].startswith("ENPU")
    assert issued["version"] == 1
    [announcement] = await announced(pool, "DocumentIssued")
    assert (announcement["document_id"], announcement["number"], announcement["version"], announcement["_key"]) == (
        str(issued["document_id"]), issued["number"], 1, str(student_id))
    assert announcement["content_sha256"] == issued["content_sha256"]
    assert await announced(pool) == []

    assert await renderer.render_batch() == 1
    [rendered] = await rows_of(pool)
    # Same document, same number and version; the recorded sha256 and size are those of the stored bytes.
    assert (rendered["document_id"], rendered["number"], rendered["version"]) == (
        issued["document_id"], issued["number"], issued["version"])
    stored = LocalStorage(tmp_path / "documents").get(rendered["storage_ref"])
    assert hashlib.sha256(stored).hexdigest() == rendered["sha256"]
    assert len(stored) == rendered["size_bytes"]
    assert rendered["rendered_at"] is not None
    assert issued["number"] in pdf_text(rendered["storage_ref"])
    [ready] = await announced(pool)
    assert (ready["document_id"], ready["number"], ready["sha256"], ready["schooling_id"]) == (
        str(issued["document_id"]), issued["number"], rendered["sha256"], str(schooling_id))
    assert len(await announced(pool, "DocumentIssued")) == 1
    assert await renderer.render_batch() == 0  # nothing rendered twice


async def test_the_content_is_frozen_at_issue(
    enrol: Enrol, feed: Feed, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """The student's name changes between the DA's issue and its render: the PDF prints the name issued."""
    student_id, _ = await enrol("Martin", "Léa", "TLE PRO MODE")
    issuer, renderer = issuer_and_renderer(pool, namespace, tmp_path, clock)
    assert await issuer.issue_batch() == 1
    await feed(StudentRegistered(producer="students", version=2, student_id=student_id,
                                 identity=identity_of("Renommée", "Léa")))  # fmt: skip
    async with pool.acquire() as conn:  # the projection did change
        assert await conn.fetchval("SELECT identity->>'last_name' FROM students WHERE student_id = $1",
                                   student_id) == "Renommée"  # fmt: skip
    assert await renderer.render_batch() == 1
    [row] = await rows_of(pool)
    text = pdf_text(row["storage_ref"])
    assert "MARTIN" in text.upper()
    assert "RENOMMÉE" not in text.upper()


async def test_a_stop_between_issue_and_render_loses_nothing(
    enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """Issued, then the process stops mid-render (its render lane cancelled, its transaction rolled back). After
    the restart, the service's lanes render the PDF: same number, one DocumentIssued, one DocumentReady."""
    _, schooling_id = await enrol("Martin", "Léa", "TLE PRO MODE")
    started, release = threading.Event(), threading.Event()

    def stalling(payloads: list[dict[str, Any]]) -> list[bytes]:
        started.set()
        release.wait(30)
        return render_batch(payloads)

    issuer, renderer = issuer_and_renderer(pool, namespace, tmp_path, clock, render=stalling)
    assert await issuer.issue_batch() == 1
    lane = asyncio.create_task(renderer.render_batch())
    await asyncio.to_thread(started.wait, 30)
    lane.cancel()  # the stop
    with pytest.raises(asyncio.CancelledError):
        await lane
    release.set()
    [before] = await rows_of(pool)
    assert before["sha256"] is None
    assert before["render_attempts"] == 0

    # The restart: a new process, the service's own lanes and render pool (entrypoints/service.py), nothing in
    # memory from before.
    settings = settings_for(namespace, storage_dir=tmp_path / "documents", render_workers=1, poll_interval_s=0.05)
    [lanes] = build_spec(settings).background
    async def restarted() -> None:
        await lanes(cast(Any, SimpleNamespace(pool=pool)))

    service = asyncio.create_task(restarted())
    try:
        for _ in range(600):
            if (await rows_of(pool))[0]["sha256"] is not None or service.done():
                break
            await asyncio.sleep(0.1)
    finally:
        service.cancel()
        await asyncio.gather(service, return_exceptions=True)
    [after] = await rows_of(pool)
    assert after["sha256"] is not None, "the document issued before the stop was never rendered"
    assert (after["document_id"], after["number"], after["version"]) == (
        before["document_id"], before["number"], before["version"])
    assert [e["document_id"] for e in await announced(pool, "DocumentIssued")] == [str(after["document_id"])]
    assert [e["document_id"] for e in await announced(pool)] == [str(after["document_id"])]
    assert after["schooling_id"] == schooling_id


POISON = "Empoisonnée"


async def test_a_poison_payload_is_given_up_shown_and_rendered_again_on_request(
    enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock, database_url: str
) -> None:
    """One DA whose rendering raises (say a glyph the font lacks) among three: the other two are rendered; it
    fails alone, twice, is dead-lettered with its reason and shown, not lost; fixed, `rerender` brings it back."""
    broken = threading.Event()
    broken.set()

    def render(payloads: list[dict[str, Any]]) -> list[bytes]:
        if broken.is_set() and any(p["content"]["student"]["last_name"] == POISON for p in payloads):
            raise ValueError("no glyph for this name")
        return render_batch(payloads)

    for name in ("Martin", POISON, "Petit"):
        await enrol(name, "Léa", "TLE PRO MODE")
    issuer, renderer = issuer_and_renderer(pool, namespace, tmp_path, clock, attempts=2, render=render)
    assert await issuer.issue_batch() == 3
    assert await renderer.render_batch() == 2  # the batch raised; by halves, the two innocent ones render
    assert await renderer.render_batch() == 0  # second attempt: given up
    rows = await rows_of(pool)
    poisoned = next(r for r in rows if r["sha256"] is None)
    assert poisoned["render_attempts"] == 2
    assert poisoned["render_given_up_at"] is not None
    assert "no glyph" in poisoned["render_error"]
    async with pool.acquire() as conn:
        dead = await conn.fetch("SELECT payload, headers FROM outbox WHERE topic LIKE '%.dlt'")
        gauge = documents_gauges(2)[2]
        shown = {(r["kind"], r["state"]): r["value"] for r in await conn.fetch(gauge.sql)}
    assert len(dead) == 1
    assert str(poisoned["document_id"]) in dead[0]["payload"].decode()
    assert '"dlt-exception": "ValueError"' in dead[0]["headers"]
    assert "no glyph" in dead[0]["headers"]
    assert shown == {("attribution", "given_up"): 1}
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    status = await invoke(["status"], env)
    assert status.exit_code == 0, status.output
    assert "attribution given_up: 1" in status.output
    assert str(poisoned["document_id"]) in status.output
    assert await renderer.render_batch() == 0  # given up: left alone until asked

    broken.clear()  # the renderer is fixed
    again = await invoke(["rerender", "--document", str(poisoned["document_id"])], env)
    assert again.exit_code == 0, again.output
    assert "1 documents queued for rendering again" in again.output
    assert await renderer.render_batch() == 1
    [back] = [r for r in await rows_of(pool) if r["document_id"] == poisoned["document_id"]]
    assert back["sha256"] is not None
    assert back["number"] == poisoned["number"]
    assert len(await announced(pool)) == 3
    status = await invoke(["status"], env)
    assert "every issued document is rendered" in status.output


async def test_a_backlog_of_unrendered_etats_liquidatifs_does_not_stop_decisions(
    feed: Feed, enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """Six états liquidatifs issued and not rendered (the renderer far behind): new DAs are issued at once, and
    the next render batch carries both kinds."""
    issuer, renderer = issuer_and_renderer(pool, namespace, tmp_path, clock, batch_size=4,
                                           render=lambda payloads: [b"%PDF-1.7 stub"] * len(payloads))
    students = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range(6)]
    for student_id, schooling_id, _ in students:
        await feed(StudentRegistered(producer="students", version=1, student_id=student_id,
                                     identity=identity_of("Durand", "Léa")),
                   schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)),
                   priced(student_id, schooling_id), rib(student_id))  # fmt: skip
    while await issuer.issue_batch():
        pass
    while await renderer.render_batch():  # their DAs
        pass
    for student_id, schooling_id, pfmp_id in students:
        await feed(pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
                   payment(student_id, schooling_id, pfmp_id, 1, 15000))
    while await issuer.issue_batch():  # the états liquidatifs: issued, none rendered
        pass
    new = [(await enrol(f"Petit{i}", "Hugo", "TLE PRO MODE"))[1] for i in range(2)]
    assert await issuer.issue_batch() == 2  # the DAs are issued at once, whatever waits for the renderer
    async with pool.acquire() as conn:
        waiting = await conn.fetch("SELECT kind, count(*) AS n FROM documents WHERE sha256 IS NULL GROUP BY kind")
        assert {r["kind"]: r["n"] for r in waiting} == {"liquidation": 6, "attribution": 2}
    assert await renderer.render_batch() == 4
    async with pool.acquire() as conn:
        rendered = await conn.fetch("SELECT kind, schooling_id FROM documents WHERE rendered_at IS NOT NULL "
                                    "AND kind = 'attribution' AND schooling_id = ANY($1)", new)
    assert len(rendered) == 2  # the new DAs rendered in the first batch, beside two états liquidatifs


async def test_render_lanes_run_while_the_issue_lanes_have_work(
    enrol: Enrol, pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock
) -> None:
    """Issue and render side by side, as the service runs them: the first PDF is stored while the issue queue
    still holds documents to number, and in the end every one is issued and rendered once."""
    for index in range(40):
        await enrol(f"Garcia{index}", "Jules", "TLE PRO MODE")
    first_render: list[int] = []

    def slow(payloads: list[dict[str, Any]]) -> list[bytes]:
        time.sleep(0.05)
        return [b"%PDF-1.7 stub " + p["content"]["number"].encode() for p in payloads]

    issuer, renderer = issuer_and_renderer(pool, namespace, tmp_path, clock, batch_size=2, render=slow)

    async def render_batch_noting_the_queue() -> int:
        done = await renderer.render_batch()
        if done and not first_render:
            async with pool.acquire() as conn:
                first_render.append(await conn.fetchval("SELECT count(*) FROM render_queue"))
        return done

    issued_batches = [0]

    async def issue_batch_leaving_time_to_render() -> int:
        # After two batches the issue lane gives a render lane running beside it up to 10 s to store a PDF (it
        # takes 0.05 s), so the check below does not hang on how fast this machine numbers 40 documents. Lanes
        # that did not run side by side would still fail it: nothing would render while the queue waits.
        if issued_batches[0] >= 2:
            for _ in range(200):
                if first_render:
                    break
                await asyncio.sleep(0.05)
        issued_batches[0] += 1
        return await issuer.issue_batch()

    lanes = asyncio.create_task(run_all([issue_batch_leaving_time_to_render, render_batch_noting_the_queue,
                                         render_batch_noting_the_queue], 0.02))  # fmt: skip
    try:
        for _ in range(600):
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT count(*) FROM documents WHERE sha256 IS NOT NULL") == 40:
                    break
            await asyncio.sleep(0.05)
    finally:
        lanes.cancel()
        await asyncio.gather(lanes, return_exceptions=True)
    assert first_render, "nothing was rendered"
    assert first_render[0] > 0, first_render  # rendered while documents still waited for their issue
    rows = await rows_of(pool)
    assert len(rows) == 40
    assert all(r["sha256"] for r in rows)
    assert len(await announced(pool)) == 40
    assert len(await announced(pool, "DocumentIssued")) == 40
