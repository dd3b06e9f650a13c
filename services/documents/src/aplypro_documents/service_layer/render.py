"""Renders issued documents in batches: from their frozen content, off the event loop; store, record, announce.

One batch, one transaction: the claimed `documents` rows (locked FOR UPDATE SKIP LOCKED, so each is in one
lane), their PDF's reference, sha256 and size, and the DocumentReady events commit together. A crash before
the commit leaves the documents issued and unrendered: the next lane to claim them renders the same bytes
again (deterministic rendering, same object key). Nothing but the frozen content is read, so the PDF says what
was issued even if the projections changed since.

Batches share layouts as the issue batches did: a class's DAs, an establishment's états liquidatifs together;
each kind gets an equal share of a batch, in an order that turns with every batch (issue.claim_fairly). A
schooling's documents render in the order they were issued (postgres_render: an état liquidatif's
DocumentReady never before its DA's).

A render that fails costs each of its documents an attempt (a batch that raises is rendered again by halves,
so one poison document fails alone); past the last attempt, or at once for a payload that kills its worker
even alone, the document is given up: dead-lettered with its reason, and left issued and unrendered, counted
by the gauge and `aplypro-documents status`, until `aplypro-documents rerender`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aplypro_contracts import DocumentReady, PfmpNumber
from aplypro_contracts.topics import dead_letter_topic
from aplypro_servicekit.deadletter import dead_letter_headers
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox

from aplypro_documents.adapters import postgres_render
from aplypro_documents.adapters.storage import Storage
from aplypro_documents.domain.model import DocumentKind
from aplypro_documents.rendering.isolation import Outcome, RenderWorkerCrashedError, render_isolating
from aplypro_documents.rendering.pool import render_batch
from aplypro_documents.service_layer.content import WIRE_KINDS, paris_today
from aplypro_documents.service_layer.issue import DecisionIssuer, claim_fairly
from aplypro_documents.service_layer.render_metrics import observe_render

log = structlog.get_logger(__name__)
K = DocumentKind
GROUPED = frozenset({K.ATTRIBUTION, K.LIQUIDATION})  # kinds whose documents share laid-out pages

Render = Callable[[list[dict[str, Any]]], list[bytes]]


class DocumentRenderer:
    def __init__(self, *, pool: asyncpg.Pool, storage: Storage, executor: Executor | None, topic: str,
                 batch_size: int, attempts: int, render: Render = render_batch) -> None:
        self._pool, self._storage, self._executor = pool, storage, executor
        self._topic, self._batch_size, self._attempts, self._render_fn = topic, batch_size, attempts, render
        self._turn = 0  # which kind claims first in the next batch
        self.rendered = 0

    async def render_batch(self) -> int:
        """Render one batch; returns how many documents it rendered (0: nothing to do, or all of it failed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await self._claim(conn)
            if not rows:
                return 0
            started = time.perf_counter()
            outcomes = await self._render_all([row["render_payload"] for row in rows])
            done = [(row, pdf) for row, pdf in zip(rows, outcomes, strict=True) if isinstance(pdf, bytes)]
            observe_render([row["kind"] for row, _ in done], time.perf_counter() - started)
            await self._record(conn, done)
            failures: dict[int, tuple[Exception, list[dict[str, Any]]]] = {}  # one per render that raised
            for row, outcome in zip(rows, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    failures.setdefault(id(outcome), (outcome, []))[1].append(row)
            for exc, failed in failures.values():
                await self._failed(conn, failed, exc)
        self.rendered += len(done)
        return len(done)

    async def _claim(self, conn: Any) -> list[dict[str, Any]]:
        """Up to batch_size issued documents, shared fairly between the kinds (claim_fairly); a grouped kind
        goes on with the layout it stopped in."""
        held: list[UUID] = []
        last: dict[DocumentKind, str | None] = {}

        async def claim(kind: DocumentKind, share: int) -> list[dict[str, Any]]:
            got = await postgres_render.claim_unrendered(conn, str(kind), share, held, grouped=kind in GROUPED,
                                                         continue_with=last.get(kind))  # fmt: skip
            held.extend(row["document_id"] for row in got)
            if got:
                last[kind] = got[-1]["layout_key"]
            return got

        self._turn += 1
        return await claim_fairly(self._turn - 1, self._batch_size, claim)

    async def _render_all(self, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        """One outcome per payload. CPU work off the event loop; a worker crash is isolated (isolation.py); a
        render that raises for several documents is done again by halves, so only the documents at fault fail."""
        outcomes = await render_isolating(self._render_fn, payloads, self._executor)
        failed = [i for i, out in enumerate(outcomes) if isinstance(out, Exception)
                  and not isinstance(out, RenderWorkerCrashedError)]  # fmt: skip
        shared = [i for i in failed if sum(outcomes[j] is outcomes[i] for j in failed) > 1]
        if not shared:
            return outcomes
        groups: dict[int, list[int]] = {}
        for i in shared:
            groups.setdefault(id(outcomes[i]), []).append(i)
        for indices in groups.values():
            half = len(indices) // 2
            for part in (indices[:half], indices[half:]):
                for i, out in zip(part, await self._render_all([payloads[i] for i in part]), strict=True):
                    outcomes[i] = out
        return outcomes

    async def _record(self, conn: Any, done: list[tuple[dict[str, Any], bytes]]) -> None:
        """Store each PDF (off the loop, side by side), then record them and their DocumentReady at once."""
        if not done:
            return
        loop = asyncio.get_running_loop()
        stored = await asyncio.gather(*(loop.run_in_executor(None, self._storage.put, row["object_key"], pdf)
                                        for row, pdf in done))  # fmt: skip
        await postgres_render.record_rendered(conn, [(row["document_id"], obj.ref, obj.sha256, obj.size_bytes)
                                                     for (row, _), obj in zip(done, stored, strict=True)])  # fmt: skip
        out: list[OutboxRow] = []
        for (row, _), obj in zip(done, stored, strict=True):
            out.append(event_row(self._topic, row["student_id"], DocumentReady(
                producer="documents", document_id=row["document_id"], kind=WIRE_KINDS[DocumentKind(row["kind"])],
                schooling_id=row["schooling_id"], student_id=row["student_id"], number=row["number"],
                version=row["version"], storage_ref=obj.ref, sha256=obj.sha256, size_bytes=obj.size_bytes,
                pfmp_numbers=tuple(PfmpNumber.model_validate(p) for p in row["pfmp_numbers"]))))
            log.info("document_rendered", kind=row["kind"], schooling_id=str(row["schooling_id"]),
                     version=row["version"])
        await write_outbox(conn, out)

    async def _failed(self, conn: Any, rows: list[dict[str, Any]], exc: Exception) -> None:
        """Count the failure; past the last attempt (at once for a worker-killing payload), give each document up:
        dead-lettered with the reason, left issued and unrendered until `aplypro-documents rerender`."""
        reason = getattr(exc, "code", type(exc).__name__)
        log.warning("render_failed", count=len(rows), reason=reason, kinds=sorted({row["kind"] for row in rows}))
        given_up = set(await postgres_render.record_render_failure(
            conn, [row["document_id"] for row in rows], str(exc), attempts=self._attempts,
            final=isinstance(exc, RenderWorkerCrashedError)))  # fmt: skip
        dead = [row for row in rows if row["document_id"] in given_up]
        await write_outbox(conn, [OutboxRow(
            dead_letter_topic(self._topic), str(row["student_id"]).encode(),
            json.dumps({"document_id": str(row["document_id"]), "schooling_id": str(row["schooling_id"]),
                        "kind": WIRE_KINDS[DocumentKind(row["kind"])], "stage": "render"}).encode(),
            dead_letter_headers(exc, service="documents", attempts=row["render_attempts"] + 1),
        ) for row in dead])
        for row in dead:
            log.error("render_given_up", document_id=str(row["document_id"]), kind=row["kind"], reason=reason)


class IssueThenRender:
    """Both lanes in one call: issue a batch, then render every document that made renderable. For tools and
    tests that want the PDFs at once; the service runs the two side by side instead (entrypoints/service.py)."""

    def __init__(self, *, pool: asyncpg.Pool, storage: Storage, executor: Executor | None, topic: str,
                 batch_size: int, attempts: int, render: Render = render_batch,
                 programmes: Mapping[str, str] | None = None, clock: Callable[[], date] = paris_today) -> None:
        self.issuer = DecisionIssuer(pool=pool, topic=topic, batch_size=batch_size, attempts=attempts,
                                     programmes=programmes, clock=clock)
        self.renderer = DocumentRenderer(pool=pool, storage=storage, executor=executor, topic=topic,
                                         batch_size=batch_size, attempts=attempts, render=render)

    @property
    def unchanged(self) -> int:
        return self.issuer.unchanged

    async def issue_batch(self) -> int:
        """What the issue batch took (as DecisionIssuer.issue_batch), once the renders it allowed are done."""
        took = await self.issuer.issue_batch()
        while await self.renderer.render_batch():
            pass
        return took
