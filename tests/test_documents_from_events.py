"""The documents service as a real process on the real broker and database: the four documents, each
issued from events alone, stored as its own PDF, recorded and announced by a DocumentReady event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aplypro_contracts import (
    Address,
    DecisionWithdrawalRequested,
    Envelope,
    Establishment,
    Identity,
    Mef,
    PaymentRequested,
    PfmpState,
    PfmpValidated,
    RibRecorded,
    SchoolingOpened,
    SchoolingPriced,
    StudentRegistered,
)
from aplypro_contracts.topics import (
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
    STUDENTS_RIBS,
    dead_letter_topic,
)
from aplypro_local.stack import LocalStack
from aplypro_local.testing import eventually, produce, read_topic
from pypdf import PdfReader

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

READ = (STUDENTS_EVENTS, STUDENTS_RIBS, PFMP_EVENTS, CALCULATOR_EVENTS)
MEF = Mef(code="2473121332", dispositif="247", diploma="40025510", duration=3, year=3,
          label="BAC PRO MÉTIERS DE LA MODE - VÊTEMENT (TERMINALE)", ministry="MENJ")
LYON = Establishment(uai="0690001A", name="Lycée professionnel Jacquard", address_lines=("12 rue des Canuts",),
                     postal_code="69004", city_name="Lyon", head_name="Claire Fontaine")
VILLEURBANNE = Establishment(uai="0690002B", name="Lycée professionnel Gratte-Ciel", postal_code="69100",
                             city_name="Villeurbanne", head_name="Paul Rive")
IBAN = "FR7630006000011234567890189"


def student(last_name: str, first_name: str) -> tuple[uuid.UUID, StudentRegistered]:
    student_id = uuid.uuid4()
    return student_id, StudentRegistered(producer="students", version=1, student_id=student_id, identity=Identity(
        ine=f"{uuid.uuid4().int % 10**9:09d}AB", last_name=last_name, first_names=(first_name,),
        birth_date=date(2008, 2, 11), address=Address(lines=("1 place Bellecour",), postal_code="69002",
                                                      city_name="Lyon")))  # fmt: skip


def schooling(student_id: uuid.UUID, schooling_id: uuid.UUID, school: Establishment, start: date,
              end: date | None = None) -> SchoolingOpened:
    return SchoolingOpened(producer="students", schooling_id=schooling_id, student_id=student_id,
                           establishment=school, class_label="TLE PRO MODE", school_year=2025, mef=MEF,
                           start_date=start, end_date=end, version=2 if end else 1)


def priced(student_id: uuid.UUID, schooling_id: uuid.UUID) -> SchoolingPriced:
    return SchoolingPriced(producer="calculator", schooling_id=schooling_id, student_id=student_id,
                           school_year=2025, priced=True, daily_rate_cents=1500, yearly_cap_cents=60000)


def keyed(student_id: uuid.UUID, *events: Envelope) -> list[tuple[uuid.UUID, Envelope | bytes]]:
    return [(student_id, event) for event in events]


async def topics_exist(bootstrap: str, names: list[str]) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return set(names) <= set(await consumer.topics())
    finally:
        await consumer.stop()


def pdf_text(path: str) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


async def test_the_four_documents_are_issued_from_events(service_env: dict[str, str], tmp_path: Path) -> None:
    namespace = service_env["APLYPRO_TOPIC_NAMESPACE"]
    bootstrap, database_url = service_env["KAFKA_BOOTSTRAP_SERVERS"], service_env["DATABASE_URL"]
    stack = LocalStack(tmp_path, extra_env=service_env)
    stack.start_servers()
    schema = f"{stack.schema_prefix}documents"
    stack.start_service("documents")
    conn = await asyncpg.connect(database_url)

    async def documents() -> dict[tuple[uuid.UUID, str], dict[str, Any]]:
        try:
            # Issued and rendered (issue, then render: the PDF comes after the number).
            rows = await conn.fetch(f"SELECT * FROM {schema}.documents WHERE sha256 IS NOT NULL")
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return {}
        return {(r["schooling_id"], r["kind"]): dict(r) for r in rows}

    try:
        await eventually(lambda: topics_exist(bootstrap, [namespace + t for t in READ]), 60, "the topics")
        # Inès moves from Lyon to Villeurbanne in January: a new schooling, the old one re-sent closed.
        # A PFMP of her first schooling is validated and requested for payment; her RIB is known.
        ines, ines_registered = student("Lambert", "Inès")
        first, second, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        # Hugo never came: his DA will be withdrawn.
        hugo, hugo_registered = student("Moreau", "Hugo")
        hugo_schooling = uuid.uuid4()
        await produce(bootstrap, namespace + STUDENTS_EVENTS, [
            *keyed(ines, ines_registered, schooling(ines, first, LYON, date(2025, 9, 1)),
                   schooling(ines, second, VILLEURBANNE, date(2026, 1, 5)),
                   schooling(ines, first, LYON, date(2025, 9, 1), end=date(2026, 1, 4))),
            *keyed(hugo, hugo_registered, schooling(hugo, hugo_schooling, LYON, date(2025, 9, 1))),
        ])
        await produce(bootstrap, namespace + STUDENTS_RIBS, keyed(ines, RibRecorded(
            producer="students", rib_id=uuid.uuid4(), student_id=ines, establishment_uai=LYON.uai,
            owner_type="personal", holder_name="Inès Lambert", iban=IBAN, bic="AGRIFRPPXXX", version=1)))
        await produce(bootstrap, namespace + PFMP_EVENTS, keyed(ines, PfmpValidated(
            producer="pfmp", occurred_at=datetime(2025, 10, 20, 9, tzinfo=UTC), pfmp=PfmpState(
                pfmp_id=pfmp_id, schooling_id=first, student_id=ines, start_date=date(2025, 10, 6),
                end_date=date(2025, 10, 17), day_count=10, status="validated", created_seq=1, rank=1,
                version=2))))
        await produce(bootstrap, namespace + CALCULATOR_EVENTS, [
            *keyed(ines, priced(ines, first), priced(ines, second), PaymentRequested(
                producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=pfmp_id, schooling_id=first,
                student_id=ines, amount_cents=15000, day_count=10, pfmp_rank=1, version=1)),
            *keyed(hugo, priced(hugo, hugo_schooling)),
        ])

        # The director withdraws Hugo's DA once it is issued (aplypro-pfmp withdraw-decision).
        async def hugo_has_a_da() -> bool:
            return (hugo_schooling, "attribution") in await documents()

        await eventually(hugo_has_a_da, 120, "Hugo's décision d'attribution")
        await produce(bootstrap, namespace + PFMP_EVENTS, keyed(hugo, DecisionWithdrawalRequested(
            producer="pfmp", schooling_id=hugo_schooling, student_id=hugo, reason="never_attended",
            requested_by="00000000-0000-4000-8000-00000000d1ec")))

        expected = {(first, "attribution"), (second, "attribution"), (first, "abrogation"),
                    (first, "liquidation"), (hugo_schooling, "attribution"), (hugo_schooling, "withdrawal")}

        async def all_issued() -> bool:
            return expected <= set(await documents())

        await eventually(all_issued, 120, "the four kinds of documents")
        issued = await documents()
    finally:
        await conn.close()
        alive = stack.alive()
        stack.stop()
    assert alive == {"documents": True}
    assert set(issued) == expected  # each once: one abrogation, one retrait, one état liquidatif

    # Each one its own PDF in storage, naming the student, with its title, number and version.
    da = issued[first, "attribution"]["number"]
    hugo_da = issued[hugo_schooling, "attribution"]["number"]
    texts = {key: pdf_text(doc["storage_ref"]) for key, doc in issued.items()}
    assert all(Path(doc["storage_ref"]).is_relative_to(tmp_path / "documents") for doc in issued.values())
    assert len({doc["storage_ref"] for doc in issued.values()}) == len(issued)
    checks = {
        (first, "attribution"): ("DÉCISION D'ATTRIBUTION ANNUELLE", "LAMBERT Inès", da),
        (first, "abrogation"): ("ABROGATION DE DÉCISION D'ATTRIBUTION ANNUELLE", "LAMBERT Inès", da,
                                "(version 1)", "changé d'établissement"),
        (first, "liquidation"): ("ETAT LIQUIDATIF", "LAMBERT Inès", da, f"{da}01 (v1)", "150 €",
                                 "du 06/10/2025 au 17/10/2025", IBAN),
        (hugo_schooling, "withdrawal"): ("RETRAIT DE LA DÉCISION D'ATTRIBUTION", "MOREAU Hugo", hugo_da),
    }
    for key, parts in checks.items():
        assert [part for part in parts if part not in texts[key]] == [], key
    assert (issued[first, "abrogation"]["number"], issued[first, "abrogation"]["version"]) == (da, 1)
    assert (issued[first, "liquidation"]["number"], issued[first, "liquidation"]["version"]) == (da, 1)
    assert issued[hugo_schooling, "withdrawal"]["number"] == hugo_da

    # Each announced by a DocumentIssued (number and content hash), then a DocumentReady on the namespaced topic:
    # reference and checksum, never bytes.
    records = await read_topic(bootstrap, namespace + DOCUMENTS_EVENTS)
    events = [json.loads(record.value) for record in records]
    ready = [e for e in events if e["event_type"] == "DocumentReady"]
    announced = [e for e in events if e["event_type"] == "DocumentIssued"]
    assert sorted(e["document_id"] for e in announced) == sorted(e["document_id"] for e in ready)
    assert all(e["content_sha256"] == issued[uuid.UUID(e["schooling_id"]),
                                             {"retrait": "withdrawal"}.get(e["kind"], e["kind"])]["content_sha256"]
               for e in announced)
    for e in ready:  # a document's DocumentReady comes after its DocumentIssued
        assert events.index(e) > next(i for i, x in enumerate(events) if x["event_type"] == "DocumentIssued"
                                      and x["document_id"] == e["document_id"])
    wire_kind = {"withdrawal": "retrait"}
    assert sorted((e["schooling_id"], e["kind"], e["number"], e["version"], e["sha256"]) for e in ready) == sorted(
        (str(schooling_id), wire_kind.get(kind, kind), doc["number"], doc["version"], doc["sha256"])
        for (schooling_id, kind), doc in issued.items())
    assert all(len(record.value) < 2_000 for record in records)
    assert {record.key.decode() for record in records} == {str(ines), str(hugo)}

    # Nothing was dead-lettered, by the consumer or by the renderer.
    for topic in (*READ, DOCUMENTS_EVENTS):
        assert await read_topic(bootstrap, dead_letter_topic(namespace + topic), idle_s=1.0) == [], topic
