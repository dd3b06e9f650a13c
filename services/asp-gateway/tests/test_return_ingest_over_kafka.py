"""End to end on the real broker and database: the calculator as a real process, the gateway in-process. A
validated PFMP becomes the calculator's request, the gateway sends it in a file, and the ASP's answers polled
from the return folder (integration, then payment) make the calculator's request `paid` with MTNET."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aplypro_asp_gateway.entrypoints.poll import poll
from aplypro_contracts import (
    Address,
    DocumentReady,
    Establishment,
    Identity,
    Mef,
    PfmpState,
    PfmpValidated,
    RibRecorded,
    SchoolingOpened,
    StudentRegistered,
)
from aplypro_contracts.topics import DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_local.stack import LocalStack
from aplypro_local.testing import eventually

from .gateway_on_broker import gateway
from .ingest_world import Sent, integrations, paid, payments

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UAI = "0350001A"
TERMINALE = Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
                label="BAC PRO METIERS DE L'ELECTRICITE", ministry="MENJ")  # 20 €/day (calculation.md §2.3)


async def topics_exist(bootstrap: str, names: list[str]) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return set(names) <= set(await consumer.topics())
    finally:
        await consumer.stop()


def facts(student_id: uuid.UUID) -> tuple[list[tuple[str, Any]], PfmpState]:
    """What the students, documents and pfmp services publish for one student paid 10 days."""
    schooling = SchoolingOpened(producer="students", schooling_id=uuid.uuid4(), student_id=student_id,
                                establishment=Establishment(uai=UAI, name="LP test"), class_label="TLE",
                                school_year=2025, mef=TERMINALE, start_date=date(2025, 9, 1), version=1)
    identity = Identity(ine="000000009AB", last_name="ZORGLUB", first_names=("Léa",), birth_date=date(2008, 3, 14),
                        sex="female", birth_city_insee="35238", birth_country_insee="99100",
                        address=Address(postal_code="35000", city_insee="35238", country_insee="99100"))
    pfmp = PfmpState(pfmp_id=uuid.uuid4(), schooling_id=schooling.schooling_id, student_id=student_id,
                     start_date=date(2025, 10, 6), end_date=date(2025, 10, 17), day_count=10, status="validated",
                     created_seq=1, rank=1, version=2)
    return [
        (STUDENTS_EVENTS, StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity)),
        (STUDENTS_EVENTS, schooling),
        (STUDENTS_RIBS, RibRecorded(producer="students", rib_id=uuid.uuid4(), student_id=student_id,
                                    establishment_uai=UAI, owner_type="personal", holder_name="ZORGLUB Léa",
                                    iban="FR7630006000000000000000167", bic="AGRIFRPP", version=1)),
        (DOCUMENTS_EVENTS, DocumentReady(producer="documents", document_id=uuid.uuid4(), kind="attribution",
                                         schooling_id=schooling.schooling_id, student_id=student_id,
                                         number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="a.pdf",
                                         sha256="0" * 64, size_bytes=1024)),
        (PFMP_EVENTS, PfmpValidated(producer="pfmp", occurred_at=datetime(2025, 10, 20, 9, tzinfo=UTC), pfmp=pfmp)),
    ], pfmp


async def test_the_calculators_request_becomes_paid_from_the_asp_returns_over_the_real_broker(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bootstrap, namespace = service_env["KAFKA_BOOTSTRAP_SERVERS"], service_env["APLYPRO_TOPIC_NAMESPACE"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    stack = LocalStack(tmp_path / "stack", extra_env=service_env)
    stack.start_servers()
    stack.start_service("calculator")
    conn = await asyncpg.connect(service_env["DATABASE_URL"])
    calculator = f"{stack.schema_prefix}calculator"

    async def calculator_request(pfmp_id: uuid.UUID) -> dict[str, Any] | None:
        try:
            row = await conn.fetchrow(f"SELECT * FROM {calculator}.payment_requests WHERE pfmp_id = $1 "
                                      "ORDER BY seq DESC LIMIT 1", pfmp_id)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return None
        return None if row is None else dict(row)

    async def calculator_state_is(pfmp_id: uuid.UUID, state: str) -> bool:
        row = await calculator_request(pfmp_id)
        return row is not None and row["state"] == state

    try:
        async with gateway(service_env, monkeypatch, tmp_path / "outbox",
                           APLYPRO_ASP_INBOX_DIR=str(inbox)) as (settings, pool, send):
            await eventually(lambda: topics_exist(bootstrap, [namespace + PFMP_EVENTS, namespace + DOCUMENTS_EVENTS]),
                             60, "the calculator's topics")
            student_id = uuid.uuid4()
            published, pfmp = facts(student_id)
            for topic, event in published:
                await send(topic, student_id, event)

            # The calculator prices the PFMP (10 days × 20 €) and hands it over; the gateway sends it in a file.
            await eventually(lambda: calculator_state_is(pfmp.pfmp_id, "sent"), 180, "the request sent")  # a loaded CI
            row = await pool.fetchrow("SELECT pr.payment_request_id, fr.record_id, fr.file_name, fr.pfmp_number, "
                                      "pr.amount_cents FROM payment_requests pr JOIN file_records fr "
                                      "USING (payment_request_id) WHERE pr.pfmp_id = $1", pfmp.pfmp_id)
            assert row is not None
            assert row["amount_cents"] == 20000
            sent = Sent(row["payment_request_id"], row["record_id"], pfmp.pfmp_id, row["pfmp_number"], 0)

            # The ASP answers: integrated, then paid 200.00 €. One poll takes both, answers first.
            for item in (payments("renvoi_paiement_APLYPROTEST_20260605.xml", paid(sent, net="200.00")),
                         integrations(row["file_name"], [sent])):
                (inbox / item.name).write_bytes(item.data)
            results = await poll(pool, settings)
            assert [(r.kind, r.applied, r.unmatched) for r in results] == [("integrations", 1, 0),
                                                                            ("payments", 1, 0)]

            await eventually(lambda: calculator_state_is(pfmp.pfmp_id, "paid"), 60, "the request paid")
            paid_request = await calculator_request(pfmp.pfmp_id)
            assert paid_request is not None
            assert paid_request["payment_request_id"] == sent.payment_request_id
            assert paid_request["paid_amount"] == Decimal("200.00")
    finally:
        await conn.close()
        alive = stack.alive()
        stack.stop()
    assert alive == {"calculator": True}
