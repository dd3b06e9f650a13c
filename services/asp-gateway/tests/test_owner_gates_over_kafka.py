"""The whole gateway in-process on the real broker: a lost INE and a retrait, published by their owners,
hold back requests the calculator handed over, and PaymentRequestHeld tells why; the INE found again releases
its request into a file."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aplypro_contracts import (
    DocumentReady,
    PaymentRequested,
    StudentIneStatusChanged,
)
from aplypro_contracts.topics import ASP_EVENTS, CALCULATOR_EVENTS, DOCUMENTS_EVENTS, STUDENTS_EVENTS
from aplypro_local.testing import eventually, read_topic

from .gateway_on_broker import gateway, reasons_of
from .published import kafka_parts, read_parts_until
from .test_service_runtime import events_of_one_student

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KINDS = ("PaymentRequestHeld", "PaymentRequestSent")


async def test_owners_facts_block_requests_over_kafka_and_a_found_ine_releases_its_own(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with gateway(service_env, monkeypatch, tmp_path) as (settings, pool, send):
        lost, withdrawn = events_of_one_student(), events_of_one_student()
        lost_request, withdrawn_request = (e[-1][2] for e in (lost, withdrawn))
        assert isinstance(lost_request, PaymentRequested)
        assert isinstance(withdrawn_request, PaymentRequested)
        for topic, key, event in lost[:-1] + withdrawn[:-1]:
            await send(topic, key, event)
        # The owners publish their facts: the student API lost the first INE; the second DA is withdrawn.
        await send(STUDENTS_EVENTS, lost_request.student_id, StudentIneStatusChanged(
            producer="students", student_id=lost_request.student_id, ine_status="not_found", version=1))
        await send(DOCUMENTS_EVENTS, withdrawn_request.student_id, DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind="retrait",
            schooling_id=withdrawn_request.schooling_id, student_id=withdrawn_request.student_id,
            number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="r.pdf", sha256="0" * 64, size_bytes=10))

        async def facts_held() -> bool:
            return bool(await pool.fetchval("SELECT (SELECT count(*) FROM student_ine_status) + "
                                            "(SELECT count(*) FROM withdrawn_schoolings) = 2"))

        await eventually(facts_held, 30, "the gateway holds both facts")
        # The calculator hands both requests over as ready.
        for request in (lost_request, withdrawn_request):
            await send(CALCULATOR_EVENTS, request.student_id, request)

        async def both_blocked() -> bool:
            return (await reasons_of(pool, lost_request.payment_request_id) == ("pending", ["ine_not_found"])
                    and await reasons_of(pool, withdrawn_request.payment_request_id)
                    == ("pending", ["attributive_decision_cancelled"]))

        await eventually(both_blocked, 30, "both requests blocked with their reasons")

        # The student API finds the INE again: that request goes into a file, the withdrawn one never does.
        await send(STUDENTS_EVENTS, lost_request.student_id, StudentIneStatusChanged(
            producer="students", student_id=lost_request.student_id, ine_status="found", version=2))
        # On the gateway's topic: each request held with its reasons, then only the found one sent.
        # (a file's moves come as PaymentRequestsMoved groups: read as their parts)
        await read_parts_until(service_env["KAFKA_BOOTSTRAP_SERVERS"], settings.topic(ASP_EVENTS),
                               lambda parts: len([p for p in parts if p.event.event_type in KINDS]) >= 3)
        parts = kafka_parts(await read_topic(service_env["KAFKA_BOOTSTRAP_SERVERS"], settings.topic(ASP_EVENTS),
                                             idle_s=2.0))  # nothing else goes out
        of_type = {t: [p.event for p in parts if p.event.event_type == t] for t in KINDS}
        held = {(e.payment_request_id, e.reasons) for e in of_type["PaymentRequestHeld"]}
        assert held == {(lost_request.payment_request_id, ("ine_not_found",)),
                        (withdrawn_request.payment_request_id, ("attributive_decision_cancelled",))}
        sent = {e.payment_request_id for e in of_type["PaymentRequestSent"]}
        assert sent == {lost_request.payment_request_id}
        assert await reasons_of(pool, withdrawn_request.payment_request_id) == (
            "pending", ["attributive_decision_cancelled"])
