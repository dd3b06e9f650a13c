"""ine_not_found and the retrait on the real PostgreSQL, through the projection and the build: blocked,
then released when the INE is found again; a retrait holds back a request not yet in a file, and marks one
already sent."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Literal

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo
from aplypro_asp_gateway.entrypoints.cli import app
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import DocumentReady, StudentIneStatusChanged
from aplypro_contracts.reasons import describe
from typer.testing import CliRunner

from .conftest import feed, register, request
from .test_gates_on_postgres import state_of

pytestmark = pytest.mark.integration


def ine(student_id: uuid.UUID, status: Literal["found", "not_found"], version: int) -> StudentIneStatusChanged:
    return StudentIneStatusChanged(producer="students", student_id=student_id, ine_status=status, version=version)


def retrait(student_id: uuid.UUID, schooling_id: uuid.UUID) -> DocumentReady:
    return DocumentReady(producer="documents", document_id=uuid.uuid4(), kind="retrait", schooling_id=schooling_id,
                         student_id=student_id, number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="r.pdf",
                         sha256="0" * 64, size_bytes=10, occurred_at=datetime.now(UTC))


async def test_a_lost_ine_blocks_until_the_student_is_found_again(pool: asyncpg.Pool, options: BuildOptions) -> None:
    student_id, schooling_id = await register(pool, 0)
    await feed(pool, projection.on_ine_status_changed, ine(student_id, "not_found", 1))
    waiting = request(student_id, schooling_id)
    await feed(pool, projection.on_payment_requested, waiting)

    assert (await build_payment_file(pool, options)).records == 0
    assert await state_of(pool, waiting.payment_request_id) == ("pending", ["ine_not_found"])
    # A replay of an older status changes nothing (the found-again below is version 2).
    await feed(pool, projection.on_ine_status_changed, ine(student_id, "found", 2))
    await feed(pool, projection.on_ine_status_changed, ine(student_id, "not_found", 1))
    released = await build_payment_file(pool, options)
    assert (released.records, released.blocked) == (1, 0)
    assert await state_of(pool, waiting.payment_request_id) == ("sent", [])


async def test_a_retrait_holds_back_a_ready_request_and_marks_one_already_sent(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    student_id, schooling_id = await register(pool, 1)
    sent = request(student_id, schooling_id)
    await feed(pool, projection.on_payment_requested, sent)
    assert (await build_payment_file(pool, options)).records == 1
    # The calculator handed a second request over as ready; then the DA is withdrawn.
    ready = request(student_id, schooling_id, rank=2)
    await feed(pool, projection.on_payment_requested, ready)
    await feed(pool, projection.on_document, retrait(student_id, schooling_id))

    assert (await build_payment_file(pool, options)).records == 0  # not sent
    assert await state_of(pool, ready.payment_request_id) == ("pending", ["attributive_decision_cancelled"])
    # The one already in a file cannot be called back: it shows.
    assert await state_of(pool, sent.payment_request_id) == ("sent", ["sent_after_withdrawal"])
    async with pool.acquire() as conn:
        status = await requests_repo.status(conn)
    assert (status["blocked"], status["sent_after_withdrawal"]) == ({"attributive_decision_cancelled": 1}, 1)


async def test_the_status_command_says_why_in_plain_words(pool: asyncpg.Pool, options: BuildOptions,
                                                          database_url: str, namespace: str) -> None:
    student_id, schooling_id = await register(pool, 2)
    await feed(pool, projection.on_ine_status_changed, ine(student_id, "not_found", 1))
    await feed(pool, projection.on_payment_requested, request(student_id, schooling_id))
    await build_payment_file(pool, options)
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace, "APLYPRO_LOG_JSON": "false"}
    # The CLI runs its own event loop: off this test's loop, in a thread.
    result = await asyncio.to_thread(CliRunner().invoke, app, ["status"], env=env)
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["blocked"] == {"ine_not_found": 1}
    assert status["why"] == {"ine_not_found": describe("ine_not_found").line()}
    assert "enter the PFMPs on the student's other, live record" in status["why"]["ine_not_found"]
