"""The pfmp service learns payment-request states and DAs over the real broker (issue 10): its own consumer
(`payment-facts`) on the calculator's, the gateway's and documents' topics; a redelivered event changes
nothing, an older one is dropped and counted, and the facts then lock a deletion and allow a validation.
The students' RibOnFile reaches the students projection (validation's RIB guard). And the facts of the
statistics indicators (barème, students' readiness, the ASP's amounts) reach their tables."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date
from decimal import Decimal

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aplypro_contracts import (
    DocumentReady,
    Envelope,
    PaymentRequested,
    PaymentRequestStateChanged,
    RibOnFile,
    SchoolingPriced,
    StudentIneStatusChanged,
    StudentRegistered,
    to_wire,
)
from aplypro_contracts.students import Address, Identity
from aplypro_contracts.topics import ASP_EVENTS, CALCULATOR_EVENTS, DOCUMENTS_EVENTS, STUDENTS_EVENTS
from aplypro_pfmp.adapters import lifecycle_sql
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.domain.guards import check_deletable
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.entrypoints.service import build_spec
from aplypro_servicekit.db import create_pool
from aplypro_servicekit.runtime import ServiceRuntime

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def until(pool: asyncpg.Pool, sql: str, expected: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (value := await pool.fetchval(sql)) != expected:
        assert time.monotonic() < deadline, f"{sql} gave {value!r}, not {expected!r}"
        await asyncio.sleep(0.2)


async def test_request_states_and_das_reach_pfmp_once_and_in_version_order(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in service_env.items():
        monkeypatch.setenv(name, value)
    settings = PfmpSettings()
    runtime = ServiceRuntime(build_spec(settings), settings)
    await runtime.start()  # migrates the schema
    pool = await create_pool(service_env["DATABASE_URL"], settings.db_schema("pfmp"))
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    student_id, schooling_id, pfmp_id, request_id = (uuid.uuid4() for _ in range(4))

    async def send(topic: str, event: Envelope) -> None:
        body, headers = to_wire(event)
        await producer.send_and_wait(settings.topic(topic), body, key=str(student_id).encode(),
                                     headers=list(headers.items()))

    def changed(state: str, version: int) -> PaymentRequestStateChanged:
        return PaymentRequestStateChanged(producer="asp-gateway", payment_request_id=request_id, pfmp_id=pfmp_id,
                                          student_id=student_id, state=state, version=version)

    try:
        da = DocumentReady(producer="documents", document_id=uuid.uuid4(), kind="attribution",
                           schooling_id=schooling_id, student_id=student_id, number="D-1", version=1,
                           storage_ref="x", sha256="0" * 64, size_bytes=1)
        await send(DOCUMENTS_EVENTS, da)
        await send(DOCUMENTS_EVENTS, da)  # redelivered: the inbox drops it
        await send(STUDENTS_EVENTS, RibOnFile(producer="students", rib_id=uuid.uuid4(), student_id=student_id,
                                              establishment_uai="0999001K", owner_type="personal", version=1))
        await send(CALCULATOR_EVENTS, PaymentRequested(
            producer="calculator", payment_request_id=request_id, pfmp_id=pfmp_id, schooling_id=schooling_id,
            student_id=student_id, amount_cents=15000, day_count=10, pfmp_rank=1, version=1))
        await send(ASP_EVENTS, changed("integrated", 3))
        await send(ASP_EVENTS, changed("sent", 2))  # older, read late: dropped and counted
        await until(pool, "SELECT dropped FROM stale_events WHERE event_type = 'PaymentRequestStateChanged'", 1)
        await until(pool, "SELECT coalesce(asp_state, calc_state) FROM payment_requests", "integrated")
        assert await pool.fetchval("SELECT count(*) FROM decisions WHERE kind = 'attribution'") == 1
        assert await pool.fetchval("SELECT count(*) FROM pfmps_known_to_asp") == 1
        await until(pool, "SELECT uai FROM ribs_on_file", "0999001K")  # the students-projection consumer
        assert await pool.fetchval("SELECT requested_at IS NOT NULL FROM payment_requests")
        assert await pool.fetchval(
            "SELECT count(*) FROM processed_messages WHERE consumer = 'payment-facts'") == 4
        # What the use cases read: the PFMP is locked, and its schooling has its DA.
        async with pool.acquire() as conn:
            latest, known = await lifecycle_sql.latest_request(conn, pfmp_id)
            assert await lifecycle_sql.has_decision(conn, schooling_id)
        with pytest.raises(PfmpError) as refused:
            check_deletable(latest, known)
        assert refused.value.code == "pfmp_payment_ongoing"
        await send(ASP_EVENTS, changed("paid", 4))
        await until(pool, "SELECT asp_state FROM payment_requests", "paid")
    finally:
        await producer.stop()
        await pool.close()
        await runtime.stop()


async def test_the_indicators_facts_reach_pfmp_over_the_broker(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """features.md §4's facts pfmp needs beyond PFMPs: the barème (SchoolingPriced), the students' readiness
    (StudentRegistered, StudentIneStatusChanged) and the ASP's net and recovery amounts
    (PaymentRequestStateChanged), each consumed by the service's own subscriptions."""
    for name, value in service_env.items():
        monkeypatch.setenv(name, value)
    settings = PfmpSettings()
    runtime = ServiceRuntime(build_spec(settings), settings)
    await runtime.start()
    pool = await create_pool(service_env["DATABASE_URL"], settings.db_schema("pfmp"))
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    student_id, schooling_id, pfmp_id, request_id = (uuid.uuid4() for _ in range(4))

    async def send(topic: str, event: Envelope) -> None:
        body, headers = to_wire(event)
        await producer.send_and_wait(settings.topic(topic), body, key=str(student_id).encode(),
                                     headers=list(headers.items()))

    try:
        await send(STUDENTS_EVENTS, StudentRegistered(producer="students", version=1, student_id=student_id, identity=Identity(
            ine="123456789AB", last_name="PRETE", first_names=("Lina",), birth_date=date(2007, 11, 2), sex="female",
            birth_country_insee="99134", address=Address(country_insee="99134"))))
        await send(STUDENTS_EVENTS, StudentIneStatusChanged(producer="students", student_id=student_id,
                                                            ine_status="not_found", version=1))
        await send(CALCULATOR_EVENTS, SchoolingPriced(
            producer="calculator", schooling_id=schooling_id, student_id=student_id, school_year=2025, priced=True,
            daily_rate_cents=1500, yearly_cap_cents=60000))
        await send(ASP_EVENTS, PaymentRequestStateChanged(
            producer="asp-gateway", payment_request_id=request_id, pfmp_id=pfmp_id, student_id=student_id,
            state="paid", paid_amount=Decimal("-150.00"), recovery=True, version=1))
        await until(pool, "SELECT asp_data_ready FROM students", True)
        await until(pool, "SELECT ine_not_found FROM student_ine_status", True)
        await until(pool, "SELECT (daily_rate_cents, yearly_cap_cents)::text FROM schooling_prices", "(1500,60000)")
        await until(pool, "SELECT (paid_cents, recovery)::text FROM payment_requests", "(15000,t)")
    finally:
        await producer.stop()
        await pool.close()
        await runtime.stop()
