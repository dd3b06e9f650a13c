"""Issues the queued décisions d'attribution in batches: render off the event loop, store, announce."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import structlog
from aplypro_contracts import DocumentReady
from aplypro_contracts.topics import dead_letter_topic
from aplypro_servicekit.outbox import OutboxRow, event_row, write_outbox
from aplypro_servicekit.relay import notify_outbox

from aplypro_documents.adapters import postgres
from aplypro_documents.adapters.storage import Storage
from aplypro_documents.domain.model import (
    AttributionDecision,
    Establishment,
    Ministry,
    PostalAddress,
    Signatory,
    Student,
    Training,
)
from aplypro_documents.domain.numbering import budget_prefix, da_number
from aplypro_documents.rendering.payloads import to_payload
from aplypro_documents.rendering.pool import render_batch

log = structlog.get_logger(__name__)
PARIS = ZoneInfo("Europe/Paris")


def _address(lines: list[str], postcode: str | None, city: str | None) -> PostalAddress:
    line1, line2 = ([*lines, "", ""])[:2]
    return PostalAddress(line1=line1, line2=line2, postcode=postcode or "", city=city or "")


def attribution_from(row: dict[str, Any], issued_on: date, version: int = 1) -> AttributionDecision:
    identity, school, mef = row["identity"], row["establishment"], row["mef"]
    address = identity.get("address") or {}
    lines = list(address.get("lines") or [])
    school_lines = list(school.get("address_lines") or [])
    ministry = Ministry.parse(mef["ministry"])
    number = da_number(budget_prefix(ministry, school.get("contract_type_code") or "99"),
                       row["administrative_number"], row["school_year"], version)
    return AttributionDecision(
        student=Student(identity["last_name"], " ".join(identity["first_names"]),
                        date.fromisoformat(identity["birth_date"]),
                        _address(lines, address.get("postal_code"), address.get("city_name"))),
        establishment=Establishment(school["uai"], school["name"],
                                    _address(school_lines, school.get("postal_code"), school.get("city_name")),
                                    school.get("email") or "", school.get("phone") or ""),
        # The confirmed director as the students reference knows them (user accounts come with the HTTP API).
        signatory=Signatory(f"director:{school['uai']}", school.get("head_name") or "",
                            "chef d'établissement", datetime.now(PARIS)),
        training=Training(mef["code"], mef["label"], ministry),
        school_year=row["school_year"], daily_rate_cents=row["daily_rate_cents"],
        yearly_cap_cents=row["yearly_cap_cents"], administrative_number=row["administrative_number"],
        number=number, version=version, issued_on=issued_on,
    )


class DecisionIssuer:
    def __init__(self, *, pool: asyncpg.Pool, storage: Storage, executor: Executor | None, topic: str,
                 schema: str, batch_size: int, attempts: int,
                 render: Callable[[list[dict[str, Any]]], list[bytes]] = render_batch) -> None:
        self._pool, self._storage, self._executor = pool, storage, executor
        self._topic, self._schema = topic, schema
        self._batch_size, self._attempts, self._render = batch_size, attempts, render
        self.issued = 0

    async def issue_batch(self) -> int:
        """Render and record one batch; returns how many decisions were issued."""
        loop = asyncio.get_running_loop()
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await postgres.claim_ready(conn, self._batch_size)
            if not rows:
                return 0
            today = datetime.now(PARIS).date()
            try:
                docs = [attribution_from(r, today) for r in rows]
                # CPU work off the event loop, so the consumer's heartbeats keep going.
                pdfs = await loop.run_in_executor(self._executor, self._render, [to_payload(d) for d in docs])
            except Exception as exc:
                await self._failed(conn, rows, exc)
                return 0
            out: list[OutboxRow] = []
            for row, doc, pdf in zip(rows, docs, pdfs, strict=True):
                key = f"{doc.establishment.uai}/{doc.school_year}/attribution/{doc.number}.pdf"
                stored = await loop.run_in_executor(None, self._storage.put, key, pdf)
                document_id = uuid.uuid4()
                await postgres.record_document(conn, {
                    "document_id": document_id, "kind": "attribution", "schooling_id": row["schooling_id"],
                    "number": doc.number, "version": doc.version, "storage_ref": stored.ref,
                    "sha256": stored.sha256, "size_bytes": stored.size_bytes})
                out.append(event_row(self._topic, row["student_id"], DocumentReady(
                    producer="documents", document_id=document_id, kind="attribution",
                    schooling_id=row["schooling_id"], student_id=row["student_id"], number=doc.number,
                    version=doc.version, storage_ref=stored.ref, sha256=stored.sha256,
                    size_bytes=stored.size_bytes)))
            await write_outbox(conn, out)
            await notify_outbox(conn, self._schema)
        self.issued += len(rows)
        return len(rows)

    async def _failed(self, conn: Any, rows: list[dict[str, Any]], exc: Exception) -> None:
        """Count the failure; past the last attempt, dead-letter each decision with the reason."""
        reason = getattr(exc, "code", type(exc).__name__)
        log.warning("render_failed", count=len(rows), reason=reason)
        await postgres.record_failure(conn, [r["schooling_id"] for r in rows], str(exc))
        dead = [r for r in rows if r["attempts"] + 1 >= self._attempts]
        for row in dead:
            await postgres.drop_from_queue(conn, row["schooling_id"])
        await write_outbox(conn, [OutboxRow(
            dead_letter_topic(self._topic), str(r["student_id"]).encode(),
            json.dumps({"schooling_id": str(r["schooling_id"]), "kind": "attribution"}).encode(),
            {"dlt-reason-code": str(reason), "dlt-reason": str(exc)[:500], "dlt-exception": type(exc).__name__,
             "dlt-service": "documents", "dlt-attempts": str(r["attempts"] + 1)},
        ) for r in dead])
