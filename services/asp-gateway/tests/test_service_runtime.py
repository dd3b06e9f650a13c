"""The whole service in-process on the real broker: events in, one payment file and PaymentRequestSent out."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from aplypro_contracts import (
    Address,
    DocumentReady,
    Envelope,
    Establishment,
    Identity,
    Mef,
    PaymentRequested,
    PaymentRequestSent,
    RibRecorded,
    SchoolingOpened,
    StudentRegistered,
)
from aplypro_contracts.topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    STUDENTS_EVENTS,
    STUDENTS_RIBS,
)

from .gateway_on_broker import gateway
from .published import read_parts_until

SENT = "PaymentRequestSent"

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UAI = "0350001A"


def events_of_one_student() -> list[tuple[str, uuid.UUID, Envelope]]:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    identity = Identity(ine="000000001AB", last_name="MARTIN", first_names=("Hugo",), birth_date=date(2008, 1, 5),
                        sex="male", birth_city_insee="35238", birth_country_insee="99100",
                        address=Address(postal_code="35000", city_insee="35238"))
    mef = Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ")
    return [
        (STUDENTS_EVENTS, student_id, StudentRegistered(producer="students", version=1, student_id=student_id,
                                                        identity=identity)),
        (STUDENTS_EVENTS, student_id, SchoolingOpened(
            producer="students", schooling_id=schooling_id, student_id=student_id,
            establishment=Establishment(uai=UAI, name="LP"), class_label="TLE", school_year=2025, mef=mef,
            start_date=date(2025, 9, 1), version=1)),
        (STUDENTS_RIBS, student_id, RibRecorded(
            producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
            owner_type="personal", holder_name="MARTIN Hugo", iban="FR7630006000000000000000167", bic="AGRIFRPP",
            version=1)),
        (DOCUMENTS_EVENTS, student_id, DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling_id,
            student_id=student_id, number=f"ENPU{schooling_id.hex[:10].upper()}20251", version=1,
            storage_ref="r.pdf", sha256="0" * 64, size_bytes=10)),
        (CALCULATOR_EVENTS, student_id, PaymentRequested(
            producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(), schooling_id=schooling_id,
            student_id=student_id, amount_cents=22500, day_count=15, pfmp_rank=1, version=1)),
    ]


async def test_events_from_three_topics_end_in_one_payment_file_and_sent_events(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with gateway(service_env, monkeypatch, tmp_path) as (settings, _, send):
        events = events_of_one_student() + events_of_one_student()
        for topic, key, event in events:
            await send(topic, key, event)
        requested = {e.payment_request_id for _, _, e in events if isinstance(e, PaymentRequested)}
        # A request may first be held (its student's data not arrived yet): PaymentRequestHeld, then Sent.
        # (a file's moves come as PaymentRequestsMoved groups: read as their parts)
        parts = await read_parts_until(service_env["KAFKA_BOOTSTRAP_SERVERS"], settings.topic(ASP_EVENTS),
                                       lambda parts: len([p for p in parts if p.event.event_type == SENT]) == 2,
                                       timeout=150)
        sent: list[PaymentRequestSent] = [p.event for p in parts if p.event.event_type == SENT]
        assert {e.payment_request_id for e in sent} == requested
        # The events may arrive over several builds; every request is in exactly one file.
        files = {e.file_name for e in sent}
        assert files == {p.name for p in tmp_path.glob("*.xml")}
        assert sum((tmp_path / name).read_bytes().count(b"<ENREGISTREMENT ") for name in files) == 2
