"""The confirmed director's "retenter" of a request the gateway holds (PaymentRetryRequested on the PFMP topic),
on the real PostgreSQL and over the real broker: a blocked request waits for an event touching its data, and a
fix that brings none (here: the unité de suivi of a programme, set by the operators) left it blocked for ever;
the retry checks it again at the next build. A request not held here is left alone."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.entrypoints.service import build_options
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import PaymentRetryRequested
from aplypro_contracts.topics import PFMP_EVENTS

from .conftest import feed, register, request, settings_for
from .gateway_on_broker import gateway, reasons_of
from .test_gates_on_postgres import state_of

pytestmark = pytest.mark.integration
DIRECTOR = "00000000-0000-4000-8000-00000000d1ec"


def retry(student_id: uuid.UUID, pfmp_id: uuid.UUID, payment_request_id: uuid.UUID) -> PaymentRetryRequested:
    return PaymentRetryRequested(producer="pfmp", pfmp_id=pfmp_id, student_id=student_id,
                                 payment_request_id=payment_request_id, requested_by=DIRECTOR,
                                 reason="blocked_request_retried")


def without_unite(namespace: str, tmp_path: Path) -> BuildOptions:
    """The operators have not set the unité de suivi of the public MENJ programme yet."""
    return build_options(settings_for(namespace, outbox_dir=tmp_path / "outbox", us_menj_public=None))


async def test_a_retry_checks_again_a_request_held_here_after_a_fix_no_event_brings(
    pool: asyncpg.Pool, options: BuildOptions, namespace: str, tmp_path: Path
) -> None:
    student_id, schooling_id = await register(pool, 0)
    held = request(student_id, schooling_id)
    await feed(pool, projection.on_payment_requested, held)
    assert (await build_payment_file(pool, without_unite(namespace, tmp_path))).records == 0
    assert await state_of(pool, held.payment_request_id) == ("pending", ["bop_without_unite_suivi"])

    # The setting is fixed (`options` has it): nothing touched the request's data, so it is not checked again
    assert (await build_payment_file(pool, options)).records == 0
    assert await state_of(pool, held.payment_request_id) == ("pending", ["bop_without_unite_suivi"])

    # The director's "retenter": checked again at the next build, it leaves
    await feed(pool, projection.HANDLERS_BY_TOPIC["pfmp"]["PaymentRetryRequested"],
               retry(student_id, held.pfmp_id, held.payment_request_id))
    assert (await build_payment_file(pool, options)).records == 1
    assert await state_of(pool, held.payment_request_id) == ("sent", [])

    # A retry of a request already sent, of another student's, or of one the gateway never saw changes nothing
    for event in (retry(student_id, held.pfmp_id, held.payment_request_id),
                  retry(uuid.uuid4(), held.pfmp_id, held.payment_request_id),
                  retry(student_id, uuid.uuid4(), uuid.uuid4())):
        await feed(pool, projection.on_retry_requested, event)
    assert await state_of(pool, held.payment_request_id) == ("sent", [])
    assert await pool.fetchval("SELECT count(*) FROM payment_requests WHERE recheck AND state = 'pending'") == 0


@pytest.mark.slow
async def test_the_gateway_reads_the_retry_from_the_pfmp_topic(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with gateway(service_env, monkeypatch, tmp_path / "first", APLYPRO_ASP_US_MENJ_PUBLIC="") as (_, pool, _):
        student_id, schooling_id = await register(pool, 1)
        held = request(student_id, schooling_id)
        await feed(pool, projection.on_payment_requested, held)
        await _until(pool, held.payment_request_id, ("pending", ["bop_without_unite_suivi"]))
    # Restarted with the setting fixed: still held, until the director's retry arrives on the PFMP topic
    async with gateway(service_env, monkeypatch, tmp_path / "second",
                       APLYPRO_ASP_US_MENJ_PUBLIC="USMENJPUB") as (_, pool, send):
        await asyncio.sleep(1.0)  # several builds
        assert await reasons_of(pool, held.payment_request_id) == ("pending", ["bop_without_unite_suivi"])
        await send(PFMP_EVENTS, student_id, retry(student_id, held.pfmp_id, held.payment_request_id))
        await _until(pool, held.payment_request_id, ("sent", []))


async def _until(pool: asyncpg.Pool, payment_request_id: uuid.UUID, wanted: tuple[str, list[str]]) -> None:
    for _ in range(150):  # 30 s
        if await reasons_of(pool, payment_request_id) == wanted:
            return
        await asyncio.sleep(0.2)
    assert await reasons_of(pool, payment_request_id) == wanted
