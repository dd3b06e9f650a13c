"""The décision d'attribution gates with the calculator as a real process on the real broker and database:
a request waits for its DA and is released by DocumentReady alone; a withdrawn DA keeps a request from ever
being handed over."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aplypro_contracts import (
    DocumentReady,
    Establishment,
    PaymentRequestBlocked,
    PaymentRequested,
    PfmpState,
    PfmpValidated,
    SchoolingOpened,
    default_registry,
)
from aplypro_contracts.topics import CALCULATOR_EVENTS, DOCUMENTS_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS
from aplypro_local.testing import eventually, produce, read_topic

from .calculator_on_broker import calculator_process
from .calculator_world import TERMINALE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def schooling(student_id: uuid.UUID) -> SchoolingOpened:
    return SchoolingOpened(producer="students", schooling_id=uuid.uuid4(), student_id=student_id,
                           establishment=Establishment(uai="0350001A", name="LP test"), class_label="TLE",
                           school_year=2025, mef=TERMINALE, start_date=date(2025, 9, 1), version=1)


def validated(opened: SchoolingOpened) -> PfmpValidated:
    return PfmpValidated(producer="pfmp", occurred_at=datetime(2025, 10, 20, 9, tzinfo=UTC), pfmp=PfmpState(
        pfmp_id=uuid.uuid4(), schooling_id=opened.schooling_id, student_id=opened.student_id,
        start_date=date(2025, 10, 6), end_date=date(2025, 10, 17), day_count=10, status="validated",
        created_seq=1, rank=1, version=2))


def document(opened: SchoolingOpened, kind: str) -> DocumentReady:
    return DocumentReady(producer="documents", document_id=uuid.uuid4(), kind=kind, schooling_id=opened.schooling_id,
                         student_id=opened.student_id, number="ENPUK7Q2M9X4TB20251", version=1,
                         storage_ref=f"{kind}/{opened.schooling_id}.pdf", sha256="0" * 64, size_bytes=1024)


async def topics_exist(bootstrap: str, names: list[str]) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return set(names) <= set(await consumer.topics())
    finally:
        await consumer.stop()


async def test_decisions_block_and_release_requests_over_the_real_broker(
    service_env: dict[str, str], tmp_path: Path,
) -> None:
    namespace, bootstrap = service_env["APLYPRO_TOPIC_NAMESPACE"], service_env["KAFKA_BOOTSTRAP_SERVERS"]
    async with calculator_process(service_env, tmp_path) as calc:
        topics = [namespace + t for t in (STUDENTS_EVENTS, PFMP_EVENTS, DOCUMENTS_EVENTS, CALCULATOR_EVENTS)]
        await eventually(lambda: topics_exist(bootstrap, topics), 60, "the topics")
        # Léa's schooling has no DA yet; Hugo's DA was issued, then withdrawn (he never came).
        lea, hugo = uuid.uuid4(), uuid.uuid4()
        lea_schooling, hugo_schooling = schooling(lea), schooling(hugo)
        await produce(bootstrap, namespace + DOCUMENTS_EVENTS, [
            (hugo, document(hugo_schooling, "attribution")), (hugo, document(hugo_schooling, "retrait"))])
        await produce(bootstrap, namespace + STUDENTS_EVENTS, [(lea, lea_schooling), (hugo, hugo_schooling)])
        lea_pfmp, hugo_pfmp = validated(lea_schooling), validated(hugo_schooling)
        await produce(bootstrap, namespace + PFMP_EVENTS, [(lea, lea_pfmp), (hugo, hugo_pfmp)])

        # Both requests are held back, each with its reason.
        await eventually(calc.request_is(lea_pfmp.pfmp.pfmp_id, ("incomplete", ["missing_attributive_decision"])), 90,
                         "Léa's request blocked for its missing DA")
        await eventually(calc.request_is(hugo_pfmp.pfmp.pfmp_id, ("incomplete", ["attributive_decision_cancelled"])), 90,
                         "Hugo's request blocked for his withdrawn DA")

        # The documents service issues Léa's DA: her request is released and handed over, nobody asking.
        await produce(bootstrap, namespace + DOCUMENTS_EVENTS, [(lea, document(lea_schooling, "attribution"))])
        await eventually(calc.request_is(lea_pfmp.pfmp.pfmp_id, ("ready", [])), 90, "Léa's request released")

        registry = default_registry()
        records = await read_topic(bootstrap, namespace + CALCULATOR_EVENTS, idle_s=3)
        events = [registry.parse(r.value) for r in records]
        requested = [e for e in events if isinstance(e, PaymentRequested)]
        assert [e.pfmp_id for e in requested] == [lea_pfmp.pfmp.pfmp_id]  # never Hugo's
        blocked = {e.pfmp_id: e.reasons for e in events if isinstance(e, PaymentRequestBlocked)}
        assert blocked == {lea_pfmp.pfmp.pfmp_id: ("missing_attributive_decision",),
                           hugo_pfmp.pfmp.pfmp_id: ("attributive_decision_cancelled",)}
        assert await calc.state_of(hugo_pfmp.pfmp.pfmp_id) == ("incomplete", ["attributive_decision_cancelled"])
