"""Issues queued documents in batches: build from the projections, fix number, version and content, announce.

Issue, then render (issue 12): one batch, one transaction: the claimed queue rows, the `documents` rows (number,
version, the frozen rendering input) and the DocumentIssued events commit together. No PDF is made here: the
render lanes (render.py) render each issued document later from its frozen content alone, store it and send
DocumentReady. So the issue rate is bound by the database, not by the renderer, and what a document says
cannot drift between its issue and its PDF. Several batches may run side by side: rows are claimed FOR
UPDATE SKIP LOCKED, so no two lanes hold the same queued document, and the (schooling, kind, version) key
keeps each version once.

Built together (issue_together.py): a batch's inputs are read in one statement per kind of input, every
document is built from them in Python, and the new PFMP numbers and the skipped queue rows are written in one
statement each, so a batch costs the same round trips for 5 documents as for 500. The per-document path
(_build: a savepoint and its own reads each) stays as the reference and the fallback: a batch whose set
statements fail for good is rolled back to its savepoint and built again one document at a time.

Fair scheduling: each kind with queued work gets an equal share of a batch, and what a kind leaves unused
goes to the others, in an order that turns with every batch. A backlog of one kind (a whole country's
états liquidatifs) never stops the others, and a kind alone in the queue gets whole batches.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import asyncpg
import structlog
from aplypro_contracts import DocumentIssued, PfmpNumber
from aplypro_contracts.topics import dead_letter_topic
from aplypro_servicekit.deadletter import dead_letter_headers, is_transient
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox

from aplypro_documents.adapters import postgres, postgres_decisions, postgres_liquidation, postgres_render
from aplypro_documents.domain.decisions import newer_schooling
from aplypro_documents.domain.errors import DocumentRuleError
from aplypro_documents.domain.model import Document, DocumentKind
from aplypro_documents.domain.numbering import next_version, pfmp_number
from aplypro_documents.rendering.payloads import to_payload
from aplypro_documents.service_layer import issue_together
from aplypro_documents.service_layer.content import (
    PARIS,
    WIRE_KINDS,
    abrogation_from,
    attribution_from,
    content_hash,
    input_hash,
    layout_key,
    liquidation_from,
    number_and_version,
    object_key,
    paris_today,
    withdrawal_from,
)

log = structlog.get_logger(__name__)
K = DocumentKind

__all__ = ["PARIS", "DecisionIssuer", "attribution_from", "log"]


@dataclass
class _Job:
    kind: DocumentKind
    row: dict[str, Any]
    doc: Document | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_T = TypeVar("_T")


class PfmpNumbersMovedError(RuntimeError):
    """A PFMP number read unset was set by the time the batch stored it: the batch is built again one by one."""


ORDER: tuple[DocumentKind, ...] = (K.WITHDRAWAL, K.ABROGATION, K.LIQUIDATION, K.ATTRIBUTION)


def shares(batch_size: int, kinds: int) -> list[int]:
    """Equal shares of a batch, the larger ones first (50 over 4 kinds: 13, 13, 12, 12)."""
    return [batch_size // kinds + (1 if index < batch_size % kinds else 0) for index in range(kinds)]


async def claim_fairly(turn: int, batch_size: int,
                       claim: Callable[[DocumentKind, int], Awaitable[list[_T]]]) -> list[_T]:
    """Up to batch_size items: each kind an equal share, again and again over what the kinds that ran out left,
    in an order that turns with `turn` (the issue and the render lanes share this fairness)."""
    order = ORDER[turn % len(ORDER):] + ORDER[: turn % len(ORDER)]
    items: list[_T] = []
    active = list(order)  # kinds that may have more: each round shares what is left of the batch among them
    while active and len(items) < batch_size:
        still: list[DocumentKind] = []
        for kind, share in zip(active, shares(batch_size - len(items), len(active)), strict=True):
            if share == 0:
                still.append(kind)
                continue
            got = await claim(kind, share)
            items += got
            if len(got) == share:
                still.append(kind)  # took its whole share: it may have more
        active = still  # every round either fills its shares or drops a kind: it ends
    return items


class DecisionIssuer:
    def __init__(self, *, pool: asyncpg.Pool, topic: str, batch_size: int, attempts: int,
                 programmes: Mapping[str, str] | None = None, clock: Callable[[], date] = paris_today,
                 together: bool = True) -> None:
        self._pool, self._topic = pool, topic
        self._together = together  # False: each document built by itself (the fallback path, for comparisons)
        self._batch_size, self._attempts = batch_size, attempts
        self._programmes = dict(programmes or {})
        self._clock = clock
        self._turn = 0  # which kind claims first in the next batch (fair scheduling)
        self.issued = 0
        self.unchanged = 0  # DA reissues skipped: same content as the current version

    async def issue_batch(self) -> int:
        """Issue one batch; returns how many queued documents it took (issued, skipped or refused)."""
        async with self._pool.acquire() as conn, conn.transaction():
            today = self._clock()
            jobs = await self._claim(conn, today)
            if not jobs:
                return 0
            ready = await self._build_all(conn, jobs, today)
            if ready:
                await self._record(conn, ready)
        self.issued += len(ready)
        return len(jobs)

    async def _claim(self, conn: Any, today: date) -> list[_Job]:
        """Up to batch_size queued documents, shared fairly between the kinds (claim_fairly)."""
        last_class: postgres.ClassKey | None = None  # a batch's DAs go on with the class they stopped in
        last_establishment: postgres_liquidation.EstablishmentKey | None = None  # and its états liquidatifs too
        held: dict[DocumentKind, list[Any]] = {kind: [] for kind in ORDER}

        async def claim(kind: DocumentKind, share: int) -> list[_Job]:
            nonlocal last_class, last_establishment
            if kind is K.WITHDRAWAL:
                rows = await postgres_decisions.claim_withdrawals(conn, share, held[kind])
            elif kind is K.ABROGATION:
                rows = await postgres_decisions.claim_abrogations(conn, share, today, held[kind])
            elif kind is K.LIQUIDATION:
                rows = await postgres_liquidation.claim_liquidations(conn, share, held[kind], last_establishment)
                if rows:
                    last_establishment = postgres_liquidation.establishment_of(rows[-1])
            else:
                rows = await postgres.claim_ready(conn, share, held[kind], last_class)
                if rows:
                    last_class = postgres.class_of(rows[-1])
            held[kind] += [row["schooling_id"] for row in rows]
            return [_Job(kind, row) for row in rows]

        self._turn += 1
        return await claim_fairly(self._turn - 1, self._batch_size, claim)

    async def _build_all(self, conn: Any, jobs: list[_Job], today: date) -> list[_Job]:
        """The jobs with something to issue, their documents built. Together (issue_together.py) under one
        savepoint; if a statement of that fails for good, rolled back and built again one by one (_build)."""
        if self._together:
            try:
                async with conn.transaction():
                    ready, unchanged = await self._build_together(conn, jobs, today)
                self.unchanged += unchanged
                return ready
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.warning("issue_built_one_by_one", error=type(exc).__name__, count=len(jobs))
                for job in jobs:
                    job.doc, job.extra = None, {}
        return [job for job in jobs if await self._build(conn, job, today)]

    async def _build_together(self, conn: Any, jobs: list[_Job], today: date) -> tuple[list[_Job], int]:
        """The jobs with something to issue and how many DA reissues were unchanged: the batch's inputs read
        once, each document built in Python in batch order, the new PFMP numbers stored and the skipped
        documents taken off the queue in one statement each. Same outcomes as _build on each job in turn."""
        inputs = await issue_together.read_inputs(conn, [(job.kind, job.row) for job in jobs])
        ready: list[_Job] = []
        skipped: list[tuple[Any, str]] = []
        numbers: dict[Any, str] = {}
        unchanged = 0
        taken: set[tuple[Any, str]] = set()  # queue rows the batch took away so far (skipped or dead-lettered)
        for job in jobs:
            key = (job.row["schooling_id"], str(job.kind))
            try:
                built = issue_together.build(job.kind, job.row, inputs, today, self._programmes,
                                             retrait_taken=(key[0], str(K.WITHDRAWAL)) in taken)  # fmt: skip
            except Exception as exc:
                if is_transient(exc):
                    raise
                if await self._failed(conn, [job], exc, final=isinstance(exc, DocumentRuleError)):
                    taken.add(key)
                continue
            job.doc, job.extra = built.doc, built.extra
            numbers.update(built.numbers)
            unchanged += built.unchanged
            if built.doc is None:
                skipped.append(key)
                taken.add(key)
            else:
                ready.append(job)
        if numbers and await postgres_liquidation.keep_pfmp_numbers(conn, numbers) != numbers:
            # Only the issuer numbers PFMPs, under its lock on the schooling's queued état liquidatif, so the
            # numbers read unset are still unset. Were one set meanwhile, _build prints the stored one.
            raise PfmpNumbersMovedError
        await postgres.drop_many_from_queue(conn, skipped)
        return ready, unchanged

    async def _build(self, conn: Any, job: _Job, today: date) -> bool:
        """Fill job.doc; False when there is nothing to issue (no longer due, already issued, unchanged)."""
        try:
            async with conn.transaction():  # a savepoint: one document's broken rule spares the batch
                job.doc = await self._content(conn, job, today)
        except Exception as exc:
            if is_transient(exc):
                raise
            await self._failed(conn, [job], exc, final=isinstance(exc, DocumentRuleError))
            return False
        if job.doc is None:
            await postgres.drop_from_queue(conn, job.row["schooling_id"], str(job.kind))
        return job.doc is not None

    async def _content(self, conn: Any, job: _Job, today: date) -> Document | None:
        row, schooling_id = job.row, job.row["schooling_id"]
        if job.kind is K.ATTRIBUTION:
            return await self._attribution(conn, job, today)
        version = await postgres_decisions.next_version(conn, schooling_id, str(job.kind))
        if job.kind is K.WITHDRAWAL:
            return withdrawal_from(row, today) if version == 1 else None  # a DA is withdrawn once
        if job.kind is K.ABROGATION:
            spans = (await postgres_decisions.student_schoolings(conn, [row["student_id"]]))[row["student_id"]]
            this = next(span for span in spans if span.schooling_id == schooling_id)
            newer = newer_schooling(this, spans, today)
            if newer is None or version > 1:  # superseded no more, or abrogated already: abrogated once
                log.info("abrogation_dropped", schooling_id=str(schooling_id), reason="not_due" if newer is None
                         else "already_abrogated")  # fmt: skip
                return None
            return abrogation_from(row, newer, today, version)
        if (await postgres_decisions.decision_states(conn, [schooling_id]))[schooling_id].withdrawn:
            log.info("liquidation_dropped", schooling_id=str(schooling_id), reason="decision_withdrawn")
            return None  # no état liquidatif certifies a payment on a withdrawn DA (documents.md §5.3)
        pfmps = (await postgres_liquidation.requested_pfmps(conn, [schooling_id]))[schooling_id]
        if not pfmps:
            return None  # every requested PFMP was deleted
        # PFMP numbers are built from the DA current when first needed, stored, and never change (§4).
        stored = await postgres_liquidation.keep_pfmp_numbers(conn, {
            p["pfmp_id"]: pfmp_number(row["decision_number"], p["rank"]) for p in pfmps if not p["pfmp_number"]})
        pfmps = [{**p, "pfmp_number": p["pfmp_number"] or stored[p["pfmp_id"]]} for p in pfmps]
        # Announced with the document: the asp-gateway sends exactly the numbers printed here (§4).
        job.extra["pfmp_numbers"] = [PfmpNumber(pfmp_id=p["pfmp_id"], number=p["pfmp_number"]) for p in pfmps]
        doc = liquidation_from(row, pfmps, self._programmes, version)
        job.extra["input_sha256"] = input_hash(doc)
        if job.extra["input_sha256"] == await postgres_liquidation.last_input_hash(conn, schooling_id, str(job.kind)):
            log.info("liquidation_unchanged", schooling_id=str(schooling_id), version=version - 1)
            return None
        return doc

    async def _attribution(self, conn: Any, job: _Job, today: date) -> Document | None:
        """Version 1, or on a reissue the next version, unless its content equals the current one's (§4, §6)."""
        row, schooling_id = job.row, job.row["schooling_id"]
        current = await postgres.current_document(conn, schooling_id, str(K.ATTRIBUTION))
        if current is None:
            doc = attribution_from(row, today)
        elif not (row["detail"] or {}).get("reissue"):
            log.info("attribution_dropped", schooling_id=str(schooling_id), reason="already_issued")
            return None
        else:
            # The same content at the current version hashes as issued: a reissue would waste a version.
            if input_hash(attribution_from(row, today, current["version"])) == current["input_sha256"]:
                log.info("attribution_reissue_unchanged", schooling_id=str(schooling_id), number=current["number"],
                         version=current["version"])  # fmt: skip
                self.unchanged += 1
                return None
            # Past version 9 the number has no digit left: VersionLimitReachedError, dead-lettered at once.
            doc = attribution_from(row, today, next_version(current["version"]))
        job.extra["input_sha256"] = input_hash(doc)
        return doc

    async def _record(self, conn: Any, jobs: list[_Job]) -> None:
        """The documents rows with their frozen content, and one DocumentIssued each, in the batch's transaction."""
        rows: list[dict[str, Any]] = []
        out: list[OutboxRow] = []
        for job in jobs:
            assert job.doc is not None
            number, version = number_and_version(job.doc)
            payload = to_payload(job.doc)
            document_id, content_sha256 = uuid.uuid4(), content_hash(payload)
            pfmp_numbers = tuple(job.extra.get("pfmp_numbers", ()))
            rows.append({
                "document_id": document_id, "kind": str(job.kind), "schooling_id": job.row["schooling_id"],
                "student_id": job.row["student_id"], "number": number, "version": version,
                "input_sha256": job.extra.get("input_sha256"), "render_payload": payload,
                "content_sha256": content_sha256, "layout_key": layout_key(job.doc), "object_key": object_key(job.doc),
                "pfmp_numbers": [p.model_dump(mode="json") for p in pfmp_numbers]})
            out.append(event_row(self._topic, job.row["student_id"], DocumentIssued(
                producer="documents", document_id=document_id, kind=WIRE_KINDS[job.kind],
                schooling_id=job.row["schooling_id"], student_id=job.row["student_id"], number=number,
                version=version, content_sha256=content_sha256, pfmp_numbers=pfmp_numbers)))
            log.info("document_issued", kind=str(job.kind), schooling_id=str(job.row["schooling_id"]),
                     version=version)
        await postgres_render.insert_issued(conn, rows)
        await write_outbox(conn, out)

    async def _failed(self, conn: Any, jobs: list[_Job], exc: Exception, *, final: bool = False) -> list[_Job]:
        """Count the failure; past the last attempt (at once for a broken rule), dead-letter each document
        (returned: they left the queue)."""
        reason = getattr(exc, "code", type(exc).__name__)
        log.warning("issue_failed", count=len(jobs), reason=reason, kinds=sorted({str(j.kind) for j in jobs}))
        await postgres.record_failure(conn, [(j.row["schooling_id"], str(j.kind)) for j in jobs], str(exc))
        dead = [j for j in jobs if final or j.row["attempts"] + 1 >= self._attempts]
        for job in dead:
            await postgres.drop_from_queue(conn, job.row["schooling_id"], str(job.kind))
        await write_outbox(conn, [OutboxRow(
            dead_letter_topic(self._topic), str(j.row["student_id"]).encode(),
            json.dumps({"schooling_id": str(j.row["schooling_id"]), "kind": WIRE_KINDS[j.kind]}).encode(),
            dead_letter_headers(exc, service="documents", attempts=j.row["attempts"] + 1),
        ) for j in dead])
        return dead
