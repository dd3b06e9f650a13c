"""Shared by the documents tests: a migrated schema of its own per test, students fed through events,
and the renderer on a clock the tests move."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pypdf
import pytest
from aplypro_contracts import (
    SCHOOLING_STATE_EVENTS,
    STUDENT_STATE_EVENTS,
    Address,
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
from aplypro_contracts.topics import DOCUMENTS_EVENTS
from aplypro_documents.adapters.storage import LocalStorage
from aplypro_documents.config import DocumentsSettings
from aplypro_documents.service_layer.projection import Projection
from aplypro_documents.service_layer.render import IssueThenRender
from aplypro_servicekit.db import create_pool, migrate

VERSIONS = itertools.count(1)  # every schooling and RIB the tests feed is newer than the ones fed before

UAI = "0690001A"
MEF = Mef(code="2473121332", dispositif="247", diploma="40025510", duration=3, year=3,
          label="BAC PRO MÉTIERS DE LA MODE - VÊTEMENT (TERMINALE)", ministry="MENJ")
SCHOOL = Establishment(uai=UAI, name="Lycée professionnel de test", address_lines=("3 rue de l'Essai",),
                       postal_code="69001", city_name="Lyon", head_name="Claire Fontaine")

Enrol = Callable[..., Awaitable[tuple[uuid.UUID, uuid.UUID]]]


def settings_for(namespace: str, **values: Any) -> DocumentsSettings:
    # The namespace is a shared setting, read under its unprefixed name: each test gets its own schema.
    return DocumentsSettings(APLYPRO_TOPIC_NAMESPACE=namespace, **values)


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = settings_for(namespace).db_schema("documents")
    assert schema != "documents"  # never the real schema
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_documents"])
    yield pool
    await pool.close()


@pytest.fixture
def enrol(pool: asyncpg.Pool) -> Enrol:
    """Feeds one student's StudentRegistered, SchoolingOpened and SchoolingPriced to the projection."""
    projection = Projection()

    async def enrol(last_name: str, first_name: str, class_label: str, *, school_year: int = 2025,
                    school: Establishment = SCHOOL) -> tuple[uuid.UUID, uuid.UUID]:
        student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
        identity = Identity(ine=f"{uuid.uuid4().int % 10**9:09d}AB", last_name=last_name, first_names=(first_name,),
                            birth_date=date(2008, 3, 14),
                            address=Address(lines=("1 place Bellecour",), postal_code="69002", city_name="Lyon"))
        events: list[tuple[Callable[[Any, Any], Awaitable[None]], Any]] = [
            (projection.on_student_registered,
             StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity)),
            (projection.on_schooling_opened, SchoolingOpened(
                producer="students", schooling_id=schooling_id, student_id=student_id, establishment=school,
                class_label=class_label, school_year=school_year, mef=MEF, start_date=date(school_year, 9, 1),
                version=next(VERSIONS))),
            (projection.on_schooling_priced, SchoolingPriced(
                producer="calculator", schooling_id=schooling_id, student_id=student_id,
                school_year=school_year, priced=True, daily_rate_cents=1500, yearly_cap_cents=60000)),
        ]  # fmt: skip
        for handler, event in events:
            async with pool.acquire() as conn, conn.transaction():
                await handler(conn, event)
        return student_id, schooling_id

    return enrol


# Abrogations, retraits and états liquidatifs (test_decisions_from_events.py, test_liquidation_from_events.py).


class Clock:
    """The French calendar day the projection and the renderer see; tests move it."""

    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


def identity_of(last_name: str, first_name: str) -> Identity:
    return Identity(ine=f"{uuid.uuid4().int % 10**9:09d}AB", last_name=last_name, first_names=(first_name,),
                    birth_date=date(2008, 2, 11),
                    address=Address(lines=("1 place Bellecour",), postal_code="69002", city_name="Lyon"))


def schooling_opened(student_id: uuid.UUID, schooling_id: uuid.UUID, *, start: date, end: date | None = None,
                     school: Establishment = SCHOOL, mef: Mef = MEF, school_year: int = 2025) -> SchoolingOpened:
    return SchoolingOpened(producer="students", schooling_id=schooling_id, student_id=student_id,
                           establishment=school, class_label="TLE PRO MODE", school_year=school_year, mef=mef,
                           start_date=start, end_date=end, version=next(VERSIONS))


def priced(student_id: uuid.UUID, schooling_id: uuid.UUID, *, is_priced: bool = True) -> SchoolingPriced:
    return SchoolingPriced(producer="calculator", schooling_id=schooling_id, student_id=student_id,
                           school_year=2025, priced=is_priced, daily_rate_cents=1500 if is_priced else None,
                           yearly_cap_cents=60000 if is_priced else None)


# États liquidatifs: a validated PFMP, its payment request and the student's bank account.
IBAN, BIC, HOLDER = "FR7630006000011234567890189", "AGRIFRPPXXX", "Famille Garnier-Fictive"


def pfmp_validated(student_id: uuid.UUID, schooling_id: uuid.UUID, pfmp_id: uuid.UUID, rank: int,
                   start: date, end: date) -> PfmpValidated:
    return PfmpValidated(producer="pfmp", occurred_at=datetime.combine(end + timedelta(days=1), time(9), UTC),
                         pfmp=PfmpState(pfmp_id=pfmp_id, schooling_id=schooling_id, student_id=student_id,
                                        start_date=start, end_date=end, day_count=10, status="validated",
                                        created_seq=rank, rank=rank, version=2))  # fmt: skip


def payment(student_id: uuid.UUID, schooling_id: uuid.UUID, pfmp_id: uuid.UUID, rank: int,
            amount_cents: int) -> PaymentRequested:
    return PaymentRequested(producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=pfmp_id,
                            schooling_id=schooling_id, student_id=student_id, amount_cents=amount_cents,
                            day_count=amount_cents // 1500, pfmp_rank=rank, version=1)


def rib(student_id: uuid.UUID) -> RibRecorded:
    return RibRecorded(producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
                       owner_type="other_person", holder_name=HOLDER, iban=IBAN, bic=BIC, version=next(VERSIONS))


Feed = Callable[..., Awaitable[None]]


@pytest.fixture
def clock() -> Clock:
    return Clock(date(2026, 3, 2))


@pytest.fixture
def projection(clock: Clock) -> Projection:
    return Projection(clock=clock)


@pytest.fixture
def feed(pool: asyncpg.Pool, projection: Projection) -> Feed:
    """Hands events to the projection's handler for their type, one transaction each (as the consumer)."""
    handlers: dict[str, Callable[[Any, Any], Awaitable[None]]] = {
        **dict.fromkeys(STUDENT_STATE_EVENTS, projection.on_student_registered),
        **dict.fromkeys(SCHOOLING_STATE_EVENTS, projection.on_schooling_opened),
        "SchoolingPriced": projection.on_schooling_priced, "RibRecorded": projection.on_rib_recorded,
        "RibArchived": projection.on_rib_archived,
        "PfmpRecorded": projection.on_pfmp_recorded, "PfmpRectified": projection.on_pfmp_recorded,
        "PfmpValidated": projection.on_pfmp_validated,
        "PaymentRequested": projection.on_payment_requested,
        "DecisionWithdrawalRequested": projection.on_withdrawal_requested,
        "SchoolingHiddenChanged": projection.on_schooling_hidden_changed,
    }  # fmt: skip

    async def feed(*events: Any) -> None:
        for event in events:
            async with pool.acquire() as conn, conn.transaction():
                await handlers[event.event_type](conn, event)

    return feed


@pytest.fixture
def issuer(pool: asyncpg.Pool, namespace: str, tmp_path: Path, clock: Clock) -> IssueThenRender:
    settings = settings_for(namespace, storage_dir=tmp_path / "documents")
    return IssueThenRender(pool=pool, storage=LocalStorage(settings.storage_dir), executor=None,
                          topic=settings.topic(DOCUMENTS_EVENTS),
                          batch_size=50, attempts=3, programmes=settings.programmes, clock=clock)


async def documents_of(pool: asyncpg.Pool, schooling_id: uuid.UUID) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM documents WHERE schooling_id = $1 ORDER BY kind, version",
                                schooling_id)
    return [dict(r) for r in rows]


async def announced(pool: asyncpg.Pool, event_type: str = "DocumentReady") -> list[dict[str, Any]]:
    """The DocumentReady events (or DocumentIssued ones) waiting in the outbox, decoded."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT topic, key, payload FROM outbox ORDER BY id")
    events = [{**json.loads(r["payload"]), "_topic": r["topic"], "_key": r["key"].decode()} for r in rows
              if not r["topic"].endswith(".dlt")]
    return [event for event in events if event["event_type"] == event_type]


def pdf_text(ref: str) -> str:
    """Every page's text, with the no-break spaces of amounts and the line breaks made plain spaces."""
    reader = pypdf.PdfReader(ref)
    text = " ".join(page.extract_text() for page in reader.pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def missing(text: str, *parts: str) -> list[str]:
    """The parts not found in the text (an empty list when all are there, and a readable failure if not)."""
    return [part for part in parts if part not in text]
