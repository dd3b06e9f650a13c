"""A render worker that dies is replaced, costs no document an attempt, and a payload that kills it is given up.

Real spawn process pools (`worker_pool`), the real database; the render functions live in crash_renders.py.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import signal
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import pytest
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.rendering.isolation import RenderPoolBrokenError, RenderPoolClosedError
from aplypro_documents.rendering.pool import RenderPool, worker_pool
from aplypro_documents.service_layer.render import IssueThenRender

pytestmark = pytest.mark.integration


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """crash_renders, importable by name in the workers spawned while the test runs (they copy sys.path)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("APLYPRO_TEST_RENDER_DIR", str(tmp_path))
    return importlib.import_module("crash_renders")


def issuer_for(pool: asyncpg.Pool, namespace: str, tmp_path: Path, executor: Any,
               render: Callable[[list[dict[str, Any]]], list[bytes]], *, attempts: int) -> IssueThenRender:
    settings = DocumentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, storage_dir=tmp_path / "documents")
    return IssueThenRender(pool=pool, storage=LocalStorage(settings.storage_dir), executor=executor,
                          topic=settings.topic(DOCUMENTS_EVENTS), batch_size=4, attempts=attempts, render=render)


async def drain(issuer: IssueThenRender, pool: asyncpg.Pool, rounds: int = 10) -> None:
    """Issue and render batches until nothing is left to do, as the service loop does (bounded, so a regression
    fails)."""
    for _ in range(rounds):
        await issuer.issue_batch()
        await issuer.renderer.render_batch()
        async with pool.acquire() as conn:
            if not await conn.fetchval("SELECT count(*) FROM render_queue") and not await conn.fetchval(
                    "SELECT count(*) FROM documents WHERE sha256 IS NULL AND render_given_up_at IS NULL"):
                return


async def issued(pool: asyncpg.Pool) -> set[uuid.UUID]:
    """The schoolings whose document is rendered (PDF stored)."""
    async with pool.acquire() as conn:
        return {r["schooling_id"] for r in await conn.fetch("SELECT schooling_id FROM documents "
                                                            "WHERE sha256 IS NOT NULL")}


async def unrendered(pool: asyncpg.Pool) -> set[tuple[uuid.UUID, int]]:
    """The schoolings whose document is issued and not rendered, with the render attempts it has used."""
    async with pool.acquire() as conn:
        return {(r["schooling_id"], r["render_attempts"]) for r in await conn.fetch(
            "SELECT schooling_id, render_attempts FROM documents WHERE sha256 IS NULL")}


async def dead_letters(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch("SELECT payload, headers FROM outbox WHERE topic LIKE '%.dlt'"))


async def test_a_payload_that_kills_its_worker_is_given_up_and_every_other_document_is_issued(
    pool: asyncpg.Pool, enrol: Any, namespace: str, tmp_path: Path, renders: ModuleType
) -> None:
    # Narrated: eight students queued, batches of four; one student's document ends its worker (os._exit).
    others = {(await enrol(f"Élève{i}", "Léa", "TLE PRO MODE"))[1] for i in range(7)}
    _, culprit = await enrol(renders.KILLER, "Léa", "TLE PRO MODE")
    with worker_pool(1) as executor:
        issuer = issuer_for(pool, namespace, tmp_path, executor, renders.exiting_render, attempts=3)
        await drain(issuer, pool)
        # Every other document is issued, the three that shared the culprit's batch among them.
        assert await issued(pool) == others
        # Bounded: one crash per halving of the batch of four (4, 2), one alone in its batch, then two with
        # the culprit alone in the pool (quarantine).
        assert executor.rebuilds <= 5
        # The culprit is given up once, with its reason, after a bounded number of crashes.
        dead = await dead_letters(pool)
        assert len(dead) == 1
        assert str(culprit) in dead[0]["payload"].decode()
        assert '"dlt-reason-code": "render_worker_crashed"' in dead[0]["headers"]
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM render_queue") == 0
            # Given up, not lost: issued, unrendered, shown as such until `aplypro-documents rerender`.
            assert await conn.fetchval("SELECT render_given_up_at IS NOT NULL FROM documents WHERE schooling_id = $1",
                                       culprit)
        # The pool still works: a student queued afterwards is issued in a later batch.
        _, later = await enrol("Tardif", "Paul", "TLE PRO MODE")
        await drain(issuer, pool)
        assert await issued(pool) == {*others, later}


async def test_a_killed_render_worker_is_replaced_and_costs_no_document_an_attempt(
    pool: asyncpg.Pool, enrol: Any, namespace: str, tmp_path: Path, renders: ModuleType
) -> None:
    # Narrated: ten students queued, one attempt allowed (a crash counted as one would dead-letter at once).
    students = {(await enrol(f"Élève{i}", "Léa", "TLE PRO MODE"))[1] for i in range(10)}
    (tmp_path / "armed").touch()
    with worker_pool(1) as executor:
        issuer = issuer_for(pool, namespace, tmp_path, executor, renders.stalling_render, attempts=1)
        batch = asyncio.create_task(issuer.issue_batch())
        # The worker rendering the first batch stalls; SIGKILL it mid-render, as the OOM killer would.
        for _ in range(600):
            if (tmp_path / "pid").exists() and (tmp_path / "pid").read_text():
                break
            await asyncio.sleep(0.1)
        worker = int((tmp_path / "pid").read_text())
        os.kill(worker, signal.SIGKILL)
        await batch
        await drain(issuer, pool)
    # Every document is issued, nothing dead-lettered, and the killed worker is really gone.
    assert await issued(pool) == students
    assert await dead_letters(pool) == []
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)


async def test_a_pool_whose_workers_die_on_start_blames_no_document(
    pool: asyncpg.Pool, enrol: Any, namespace: str, tmp_path: Path, renders: ModuleType
) -> None:
    # Narrated: two students queued, a pool whose initializer fails; every render "crashes", none is at fault.
    students = {(await enrol(f"Élève{i}", "Léa", "TLE PRO MODE"))[1] for i in range(2)}
    spawn = multiprocessing.get_context("spawn")
    with RenderPool(lambda: ProcessPoolExecutor(1, mp_context=spawn, initializer=renders.failing_start)) as executor:
        issuer = issuer_for(pool, namespace, tmp_path, executor, renders.fake_pdfs, attempts=1)
        with pytest.raises(RenderPoolBrokenError):
            await issuer.issue_batch()
    # The batch is not taken: both issued and unrendered with no attempt spent, nothing dead-lettered.
    assert await unrendered(pool) == {(s, 0) for s in students}
    assert await issued(pool) == set()
    assert await dead_letters(pool) == []


async def test_a_pool_shut_down_under_a_lane_costs_no_document_an_attempt(
    pool: asyncpg.Pool, enrol: Any, namespace: str, tmp_path: Path, renders: ModuleType
) -> None:
    # Narrated: the service loop stopped and shut its render pool down while a lane still claimed a batch
    # (drill of 5 December: 6,405 états liquidatifs dead-lettered with "cannot schedule new futures").
    students = {(await enrol(f"Élève{i}", "Léa", "TLE PRO MODE"))[1] for i in range(3)}
    with RenderPool(lambda: ThreadPoolExecutor(1)) as executor:
        pass
    issuer = issuer_for(pool, namespace, tmp_path, executor, renders.fake_pdfs, attempts=1)
    with pytest.raises(RenderPoolClosedError):
        await issuer.issue_batch()
    # The batch is not taken: issued and unrendered, no attempt spent, nothing dead-lettered.
    assert await unrendered(pool) == {(s, 0) for s in students}
    assert await issued(pool) == set()
    assert await dead_letters(pool) == []


async def test_a_kill_while_the_replacement_worker_starts_is_not_blamed_on_the_document(
    tmp_path: Path, renders: ModuleType
) -> None:
    # Narrated: one document rendered alone; its worker is killed, then the worker started to replace it is
    # killed too, before it could take the document. Two crashes, neither of them the document's doing.
    from aplypro_documents.rendering.isolation import render_isolating

    (tmp_path / "armed").touch()
    spawn = multiprocessing.get_context("spawn")
    with RenderPool(lambda: ProcessPoolExecutor(1, mp_context=spawn,
                                                initializer=renders.dying_once_at_start)) as executor:
        outcomes = await render_isolating(renders.killed_then_killed_at_start, [{"student": "Innocente"}], executor)
    assert (tmp_path / "died_at_start").exists()  # the second kill did happen
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], bytes), outcomes[0]  # rendered, not given up as render_worker_crashed


async def test_a_document_alone_in_its_batch_is_not_blamed_for_a_worker_killed_under_another_lane(
    renders: ModuleType
) -> None:
    # Narrated: two lanes share a pool of two workers (the service runs render_workers + 1 lanes). One lane
    # renders a payload that kills its worker, twice; each kill breaks the whole pool and fails the other
    # lane's render of an innocent document alone. CI drill of 5 December: one such document was given up
    # as render_worker_crashed after two kills it had nothing to do with.
    from aplypro_documents.rendering.isolation import RenderWorkerCrashedError, render_isolating

    spawn = multiprocessing.get_context("spawn")
    with RenderPool(lambda: ProcessPoolExecutor(2, mp_context=spawn)) as executor:
        async def killer_lane() -> list[Any]:
            return [await render_isolating(renders.slow_innocent_or_killer, [{"student": renders.KILLER}], executor)
                    for _ in range(2)]

        innocent, killed = await asyncio.gather(
            render_isolating(renders.slow_innocent_or_killer, [{"student": "Innocente"}], executor), killer_lane())
    assert all(isinstance(out[0], RenderWorkerCrashedError) for out in killed)  # the killer is given up
    assert executor.rebuilds >= 2
    assert isinstance(innocent[0], bytes), innocent[0]  # the innocent document is rendered, not given up
