"""`aplypro-pfmp replay` over the real broker (Tansu) and database: facts pfmp projected before a migration
gave them a column (the ASP's net amount of 0016, the DA fingerprints of 0018) are filled by replaying the
topics through the consumers' own handlers; the live consumers' inboxes are left alone, the replay's own
inbox is emptied, and a second replay changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aplypro_contracts import (
    DocumentReady,
    Envelope,
    Establishment,
    Identity,
    Mef,
    PaymentRequested,
    PaymentRequestStateChanged,
    SchoolingOpened,
    StudentRegistered,
    to_wire,
)
from aplypro_contracts.topics import ASP_EVENTS, CALCULATOR_EVENTS, DOCUMENTS_EVENTS, STUDENTS_EVENTS
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints import cli
from aplypro_pfmp.entrypoints.service import build_spec
from aplypro_pfmp.service_layer import facts, projection
from aplypro_servicekit.consumer import EventHandler
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.kafka import ensure_topics
from aplypro_servicekit.replay import replay
from typer.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AT = datetime(2025, 9, 1, 8, tzinfo=UTC)

SNAPSHOT = (
    "SELECT (SELECT paid_cents FROM payment_requests) AS paid, "
    "(SELECT da_content_sha IS NOT NULL FROM schoolings) AS fingerprint, "
    "(SELECT issued_at FROM decisions WHERE kind = 'attribution') AS issued_at, "
    "(SELECT content_sha IS NOT NULL FROM decisions WHERE kind = 'attribution') AS noted, "
    "(SELECT array_agg(consumer ORDER BY consumer) FROM processed_messages) AS inboxes"
)


async def snapshot(pool: asyncpg.Pool) -> dict[str, Any]:
    row = await pool.fetchrow(SNAPSHOT)
    assert row is not None
    return dict(row)


async def test_a_replay_fills_what_the_projection_gained_after_the_events_were_consumed(
        service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in service_env.items():
        monkeypatch.setenv(name, value)
    settings = PfmpSettings()
    spec = build_spec(settings)
    pool: asyncpg.Pool = await create_pool(settings.database_url, spec.schema)
    await migrate(pool, spec.schema, ["aplypro_servicekit", "aplypro_pfmp"])
    topics = {t: settings.topic(t) for t in (STUDENTS_EVENTS, CALCULATOR_EVENTS, ASP_EVENTS, DOCUMENTS_EVENTS)}
    await ensure_topics(settings.kafka_bootstrap_servers, topics.values(), settings.topic_partitions)
    student_id, schooling_id, pfmp_id, request_id = (uuid.uuid4() for _ in range(4))
    events: list[tuple[str, Envelope]] = [
        (STUDENTS_EVENTS, StudentRegistered(
            producer="students", version=1, student_id=student_id, occurred_at=AT,
            identity=Identity(ine="123456789AB", last_name="REJOUE", first_names=("Lou",),
                              birth_date=date(2008, 1, 2)))),
        (STUDENTS_EVENTS, SchoolingOpened(
            producer="students", schooling_id=schooling_id, student_id=student_id, occurred_at=AT,
            establishment=Establishment(uai="0999001K", name="LP test"), class_label="TLE PRO", school_year=2025,
            mef=Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ"),
            start_date=date(2025, 9, 1), version=1)),
        (DOCUMENTS_EVENTS, DocumentReady(
            producer="documents", document_id=uuid.uuid4(), kind="attribution", schooling_id=schooling_id,
            student_id=student_id, number="ENPUK7Q2M9X4TB20251", version=1, storage_ref="x.pdf", sha256="0" * 64,
            size_bytes=1, occurred_at=datetime(2025, 9, 2, tzinfo=UTC))),
        (CALCULATOR_EVENTS, PaymentRequested(
            producer="calculator", payment_request_id=request_id, pfmp_id=pfmp_id, schooling_id=schooling_id,
            student_id=student_id, amount_cents=10000, day_count=10, pfmp_rank=1, version=1)),
        (ASP_EVENTS, PaymentRequestStateChanged(
            producer="asp-gateway", payment_request_id=request_id, pfmp_id=pfmp_id, student_id=student_id,
            state="paid", paid_amount=Decimal("95.50"), version=2)),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        # What the live consumers did before migrations 0016 and 0018: each event applied once (its inbox row),
        # the columns those migrations added left empty.
        handlers: dict[str, EventHandler] = {**facts.HANDLERS, "StudentRegistered": projection.on_student_registered,
                                             "SchoolingOpened": projection.on_schooling_opened}
        async with pool.acquire() as conn, conn.transaction():
            for topic, event in events:
                body, headers = to_wire(event)
                await producer.send_and_wait(topics[topic], body, key=str(student_id).encode(),
                                             headers=list(headers.items()))
                await handlers[event.event_type](conn, event)
                await conn.execute("INSERT INTO processed_messages (consumer, event_id, body_sha256) "
                                   "VALUES ('payment-facts', $1, 'x')", str(event.event_id))
            await conn.execute("UPDATE payment_requests SET paid_cents = NULL")
            await conn.execute("UPDATE schoolings SET da_content_sha = NULL, da_content_at = NULL")
            await conn.execute("UPDATE decisions SET issued_at = NULL, identity_sha = NULL, content_sha = NULL")
        before = await snapshot(pool)
        assert (before["paid"], before["fingerprint"], before["issued_at"]) == (None, False, None)

        students = await replay(spec, settings, "students-projection")
        payments = await replay(spec, settings, "payment-facts")
        assert (students.records, students.processed, students.dead_lettered) == (2, 2, 0)
        assert (payments.records, payments.processed, payments.dead_lettered) == (3, 3, 0)
        after = await snapshot(pool)
        assert after["paid"] == 9550  # the ASP's net amount, for "Mt. payé"
        assert after["fingerprint"] is True
        assert after["issued_at"] == datetime(2025, 9, 2, tzinfo=UTC)
        assert after["noted"] is True
        assert after["inboxes"] == ["payment-facts"] * 5  # the live inbox untouched, the replay's emptied

        again = await replay(spec, settings, "payment-facts")  # safe to run again: nothing changes
        assert again.processed == 3
        assert await snapshot(pool) == after
    finally:
        await producer.stop()
        await pool.close()


def test_the_command_names_the_consumers_it_knows() -> None:
    result = CliRunner().invoke(cli.app, ["replay", "nope"])
    assert result.exit_code == 2
    assert "pfmp has no consumer 'nope' (its consumers: students-projection, payment-facts)" in result.output
