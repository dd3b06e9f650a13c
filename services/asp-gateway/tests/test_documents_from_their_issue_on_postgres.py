"""A document counts from its issue (documents.md §3, issue 12): the DA number, an état liquidatif's PFMP numbers
and a retrait reach the payment file from DocumentIssued, so no payment waits for the renderer; the
DocumentReady of the same version, later, is the same fact: it changes nothing and is not stale. Each event goes
through the handler the gateway subscribes to its type, on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import DocumentIssued, DocumentReady, PfmpNumber
from structlog.testing import capture_logs

from .conftest import da_number_of, feed, register, request
from .test_gates_on_postgres import state_of
from .test_pfmp_number_printed_on_postgres import numbers_sent

pytestmark = pytest.mark.integration


def issue_and_pdf(student_id: uuid.UUID, schooling_id: uuid.UUID, kind: str, number: str,
                  *printed: tuple[uuid.UUID, str]) -> tuple[DocumentIssued, DocumentReady]:
    """One document as the documents service announces it: issued, then (an hour later) its PDF stored."""
    at = datetime.now(UTC)
    common: dict[str, Any] = {
        "producer": "documents", "document_id": uuid.uuid4(), "kind": kind, "schooling_id": schooling_id,
        "student_id": student_id, "number": number, "version": 1,
        "pfmp_numbers": tuple(PfmpNumber(pfmp_id=p, number=n) for p, n in printed)}
    return (DocumentIssued(**common, content_sha256="1" * 64, occurred_at=at),
            DocumentReady(**common, storage_ref="d.pdf", sha256="0" * 64, size_bytes=10,
                          occurred_at=at + timedelta(hours=1)))


async def consume(pool: asyncpg.Pool, event: DocumentIssued | DocumentReady) -> list[MutableMapping[str, Any]]:
    """Through the gateway's subscription to the documents topic; returns what it logged."""
    with capture_logs() as logs:
        await feed(pool, projection.HANDLERS_BY_TOPIC["documents"][event.event_type], event)
    return logs


async def test_a_request_whose_da_is_only_issued_leaves_with_its_number_and_the_pdf_changes_nothing(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    student, schooling = await register(pool, 0, with_decision=False)
    asked = request(student, schooling)
    await feed(pool, projection.on_payment_requested, asked)
    assert (await build_payment_file(pool, options)).records == 0
    assert await state_of(pool, asked.payment_request_id) == ("pending", ["missing_attributive_decision"])

    # The DA is issued; its PDF is not rendered yet: the request leaves with the DA's number.
    number = da_number_of(schooling)
    issued, ready = issue_and_pdf(student, schooling, "attribution", number)
    await consume(pool, issued)
    result = await build_payment_file(pool, options)
    assert result.records == 1
    assert await numbers_sent(pool, result.file_name) == ([number], [number + "01"])

    # The PDF: the same DA, nothing changes, nothing stale.
    held = "SELECT number, version, issued_at FROM attributive_decisions WHERE schooling_id = $1"
    before = [dict(r) for r in await pool.fetch(held, schooling)]
    assert [d["issued_at"] for d in before] == [issued.occurred_at]
    assert await consume(pool, ready) == []
    assert [dict(r) for r in await pool.fetch(held, schooling)] == before
    assert await pool.fetchval("SELECT count(*) FROM stale_events") == 0
    assert await state_of(pool, asked.payment_request_id) == ("sent", [])


async def test_the_pfmp_numbers_of_an_issued_etat_liquidatif_go_in_the_file_and_its_pdf_changes_nothing(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    student, schooling = await register(pool, 1, with_decision=False)
    asked = request(student, schooling, rank=1)
    await feed(pool, projection.on_payment_requested, asked)
    number = da_number_of(schooling)
    da_issued, _ = issue_and_pdf(student, schooling, "attribution", number)
    await consume(pool, da_issued)
    printed = number + "07"  # not what the fallback (DA + rank) would give: only the état liquidatif says it
    issued, ready = issue_and_pdf(student, schooling, "liquidation", number, (asked.pfmp_id, printed))
    await consume(pool, issued)

    result = await build_payment_file(pool, options)
    assert result.records == 1
    assert await numbers_sent(pool, result.file_name) == ([number], [printed])
    kept = "SELECT * FROM printed_pfmp_numbers"
    before = [dict(r) for r in await pool.fetch(kept)]
    assert await consume(pool, ready) == []  # same numbers as the file's: no pfmp_number_differs
    assert [dict(r) for r in await pool.fetch(kept)] == before


async def test_an_issued_retrait_holds_back_a_ready_request_and_marks_one_already_sent(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    student, schooling = await register(pool, 2)
    sent = request(student, schooling)
    await feed(pool, projection.on_payment_requested, sent)
    assert (await build_payment_file(pool, options)).records == 1
    ready = request(student, schooling, rank=2)
    await feed(pool, projection.on_payment_requested, ready)

    issued, pdf = issue_and_pdf(student, schooling, "retrait", da_number_of(schooling))
    logged = await consume(pool, issued)
    assert [e["event"] for e in logged if e["log_level"] == "warning"] == ["decision_withdrawn_after_sent"]
    assert (await build_payment_file(pool, options)).records == 0
    assert await state_of(pool, ready.payment_request_id) == ("pending", ["attributive_decision_cancelled"])
    assert await state_of(pool, sent.payment_request_id) == ("sent", ["sent_after_withdrawal"])

    # The retrait's PDF: known already, nothing to do, nothing logged again.
    withdrawn = [dict(r) for r in await pool.fetch("SELECT * FROM withdrawn_schoolings")]
    assert await consume(pool, pdf) == []
    assert [dict(r) for r in await pool.fetch("SELECT * FROM withdrawn_schoolings")] == withdrawn
    assert await state_of(pool, ready.payment_request_id) == ("pending", ["attributive_decision_cancelled"])
    assert await pool.fetchval("SELECT count(*) FROM stale_events") == 0
