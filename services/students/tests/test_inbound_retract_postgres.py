"""A producer's SchoolingRetracted on the real PostgreSQL: a schooling without decision or payment is hidden
for good (one SchoolingHiddenChanged, staff cannot reintegrate it, a later report of the record is refused);
once the documents or calculator events say a decision was issued or a payment requested, the retraction is
refused (`retract_refused`) and nothing changes; stale, repeated and unknown retractions are explicit."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import DocumentIssued, DocumentReady, Envelope, PaymentRequested
from aplypro_contracts.examples import examples
from aplypro_contracts.inbound import SchoolingReported, SchoolingRetracted
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.db import create_pool, migrate
from aplypro_students.adapters.csv_reference import read_bcn_mefs_csv, read_establishments_csv
from aplypro_students.config import StudentsSettings
from aplypro_students.domain.inbound import ProducerMismatch, RecordRetracted, RetractRefused, UnknownRecord
from aplypro_students.service_layer import money_facts
from aplypro_students.service_layer.hide_schooling import HideRefused, set_hidden
from aplypro_students.service_layer.inbound_schoolings import Producer, apply_reported
from aplypro_students.service_layer.reference import load_establishments, load_mefs
from aplypro_students.service_layer.retract_schooling import apply_retracted

from .conftest import DATA, UAI

pytestmark = pytest.mark.integration
TODAY = date(2025, 10, 15)
LPM = Producer("lpm", frozenset({"MENJ"}))
RECORD = "LPM-2025-7"


@pytest.fixture
async def pool(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Pool]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    settings = StudentsSettings()
    pool = await create_pool(settings.database_url, settings.db_schema("students"), size=2)
    await migrate(pool, settings.db_schema("students"), ["aplypro_servicekit", "aplypro_students"])
    async with pool.acquire() as conn, conn.transaction():
        await load_establishments(conn, read_establishments_csv(DATA / "establishments.csv"))
        await load_mefs(conn, 2025, read_bcn_mefs_csv(DATA / "mefs.csv"))
        await conn.execute("UPDATE establishments SET students_provider = 'events:lpm' WHERE uai = $1", UAI)
    try:
        yield pool
    finally:
        await pool.close()


def envelope(version: int, producer: str = "lpm", record: str = RECORD) -> dict[str, Any]:
    return {"event_id": uuid.uuid4(), "occurred_at": datetime(2025, 10, 1, tzinfo=UTC), "producer": producer,
            "correlation_id": uuid.uuid4(), "source_record_id": record, "source_version": version}


def reported(version: int) -> SchoolingReported:
    return SchoolingReported.model_validate(envelope(version) | {
        "student": {"ine": "000111225AD", "last_name": "KERVRAN", "first_names": ["Maël"],
                    "birth_date": "2009-02-11", "sex": "male"},
        "schooling": {"establishment_uai": UAI, "school_year": 2025, "class_label": "2NDE PRO MELEC",
                      "mef_code": "2473121133", "status": "student", "start_date": "2025-09-01",
                      "end_date": None}})


def retracted(version: int, **kwargs: Any) -> SchoolingRetracted:
    return SchoolingRetracted.model_validate(envelope(version, **kwargs))


async def emitted_by(pool: asyncpg.Pool, step: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Runs `step(conn)` in its own transaction; returns its outcome and the events it wrote."""
    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    async with pool.acquire() as conn, conn.transaction():
        outcome = await step(conn)
    rows = await pool.fetch("SELECT headers, payload FROM outbox WHERE id > $1 ORDER BY id", before)
    return outcome, [{"type": json.loads(r["headers"])["event-type"], **json.loads(r["payload"])} for r in rows]


async def report(pool: asyncpg.Pool, event: SchoolingReported) -> Any:
    return await emitted_by(pool, lambda conn: apply_reported(
        conn, event, producer=LPM, topic=STUDENTS_EVENTS, today=TODAY, tolerance=timedelta(days=30)))


async def retract(pool: asyncpg.Pool, event: SchoolingRetracted) -> Any:
    return await emitted_by(pool, lambda conn: apply_retracted(conn, event, producer=LPM, topic=STUDENTS_EVENTS))


async def schooling(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT s.schooling_id, s.student_id, s.hidden_at, s.retracted_at FROM schoolings s "
                              "JOIN students USING (student_id) WHERE ine = '000111225AD'")
    assert row is not None
    return row


async def test_a_schooling_without_decision_or_payment_is_retracted_once_and_for_good(pool: asyncpg.Pool) -> None:
    assert (await report(pool, reported(1)))[0] == "applied"
    s = await schooling(pool)

    # The retraction hides it: one SchoolingHiddenChanged, keyed by the student, that every consumer applies.
    outcome, emitted = await retract(pool, retracted(2))
    assert outcome == "retracted"
    assert [(e["type"], e["schooling_id"], e["hidden"], e["version"]) for e in emitted] == [
        ("SchoolingHiddenChanged", str(s["schooling_id"]), True, 1)]
    after = await schooling(pool)
    assert (after["hidden_at"] is not None, after["retracted_at"] is not None) == (True, True)

    # The same version again (a new event id): stale, skipped; a newer one: already done, nothing emitted.
    assert await retract(pool, retracted(2)) == ("stale", [])
    assert await retract(pool, retracted(3)) == ("already_retracted", [])
    assert await pool.fetchval("SELECT source_version FROM inbound_records WHERE source_record_id = $1", RECORD) == 3

    # A retraction is final: a later report of the record is refused, and staff cannot reintegrate it.
    with pytest.raises(RecordRetracted):
        await report(pool, reported(4))
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(HideRefused) as refused:
            await set_hidden(conn, UAI, s["schooling_id"], False, by="u-42", topic=STUDENTS_EVENTS)
    assert refused.value.code == "schooling.retracted"
    assert (await schooling(pool))["hidden_at"] is not None


def _fact(kind: str, schooling_id: uuid.UUID, student_id: uuid.UUID,
          document: type[DocumentIssued | DocumentReady] = DocumentReady) -> Envelope:
    """The documents or calculator event, as they publish it, for this schooling."""
    model = PaymentRequested if kind == "payment" else document
    example = next(e for e in examples() if isinstance(e, model))
    update: dict[str, Any] = {"schooling_id": schooling_id, "student_id": student_id}
    if kind != "payment":
        update["kind"] = kind
    return example.model_copy(update=update)


@pytest.mark.parametrize(("kind", "document"), [("attribution", DocumentReady), ("attribution", DocumentIssued),
                                                ("payment", DocumentReady)])
async def test_a_schooling_with_a_decision_or_a_payment_is_not_retracted(
        pool: asyncpg.Pool, kind: str, document: type[DocumentIssued | DocumentReady]) -> None:
    await report(pool, reported(1))
    s = await schooling(pool)
    # The documents service issued its décision d'attribution (its PDF perhaps not rendered yet: a payment may
    # leave from the issue), or the calculator requested a payment.
    fact = _fact(kind, s["schooling_id"], s["student_id"], document)
    handler = money_facts.HANDLERS[fact.event_type]
    async with pool.acquire() as conn, conn.transaction():
        await handler(conn, fact)
        await handler(conn, fact)  # a redelivery changes nothing

    with pytest.raises(RetractRefused, match="source_record_id"):
        await retract(pool, retracted(2))
    after = await schooling(pool)
    assert (after["hidden_at"], after["retracted_at"]) == (None, None)
    assert await pool.fetchval("SELECT source_version FROM inbound_records WHERE source_record_id = $1", RECORD) == 1


async def test_a_liquidation_document_alone_does_not_block_a_retraction(pool: asyncpg.Pool) -> None:
    await report(pool, reported(1))
    s = await schooling(pool)
    async with pool.acquire() as conn, conn.transaction():
        liquidation = _fact("liquidation", s["schooling_id"], s["student_id"])
        assert isinstance(liquidation, DocumentReady)
        await money_facts.on_document(conn, liquidation)
    assert (await retract(pool, retracted(2)))[0] == "retracted"


async def test_a_retraction_of_an_unknown_record_or_by_another_producer_is_rejected(pool: asyncpg.Pool) -> None:
    await report(pool, reported(1))
    with pytest.raises(UnknownRecord, match="source_record_id"):
        await retract(pool, retracted(2, record="LPM-NEVER-SENT"))
    with pytest.raises(ProducerMismatch):
        await retract(pool, retracted(2, producer="mer"))
    assert (await schooling(pool))["hidden_at"] is None
