"""Builders shared by the asp-gateway tests: the §4.7 sample student (Léa) as a pending request, and a
schema of its own per test with the projection fed directly (handlers called in a transaction)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.model import Parametrage, PendingRequest, Rib, Schooling, Student
from aplypro_asp_gateway.entrypoints.service import SCHEMA, build_options
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions
from aplypro_contracts import (
    Address,
    DocumentReady,
    Establishment,
    Identity,
    Mef,
    PaymentRequested,
    RibRecorded,
    SchoolingOpened,
    SchoolingPriced,
    StudentRegistered,
)
from aplypro_servicekit.db import create_pool, migrate

LEA_IBAN = "FR7630006000011234567890189"
SCHOOLING_ID = uuid.UUID("a1b2c3d4-e5f6-4000-8000-000000000001")


def lea_request(**changes: Any) -> PendingRequest:
    """The first sample record of asp-exchange.md §4.7: 20 days at 15 €, cap 600 €, public school."""
    request = PendingRequest(
        payment_request_id=uuid.uuid4(), record_id=4242, pfmp_id=uuid.uuid4(), schooling_id=SCHOOLING_ID,
        student_id=uuid.uuid4(), amount_cents=30000, pfmp_rank=1,
        student=Student(last_name="Dupré", first_names=("Léa", "Marie", "Anne"), birth_date=date(2008, 3, 14),
                        sex="female", birth_city_insee="34172", birth_country_insee="99100", postal_code="34000",
                        city_insee="34172", country_insee="99100"),
        schooling=Schooling(uai="0340001A", contract_type_code="99", mef_ministry="MENJ", school_year=2025,
                            status="student", yearly_cap_cents=60000),
        rib=Rib(rib_id=uuid.uuid4(), owner_type="personal", holder_name="Mme Léa Dupré", iban=LEA_IBAN,
                bic="AGRIFRPPXXX"),
    )
    # The sample's DA number (version 0, as in §4.7); one of its own for another schooling.
    changes.setdefault("da_number", da_number_of(changes.get("schooling_id", SCHOOLING_ID), 0))
    return replace(request, **changes)


def da_number_of(schooling_id: uuid.UUID, version: int = 1) -> str:
    """A DA number shaped as the documents service prints it (documents.md §4), one per schooling."""
    return f"ENPU{schooling_id.hex[:10].upper()}2025{version}"


PARAMS = Parametrage(
    site_operator="SITEOPE", user_code="USERCODE", dispo="APLYPRO", presta_dispo="APLYPRO", dispositif="APLYPRO",
    unites_suivi={"menj_public": "USMENJPUB", "menj_private": "USMENJPRIV", "masa": "USMASA", "mer": "USMER",
                  "menj_other": None, "armee": None},
)


@pytest.fixture
def make_request() -> Callable[..., PendingRequest]:
    return lea_request


@pytest.fixture
def params() -> Parametrage:
    return PARAMS


UAI = "0350001A"
MEF = Mef(code="2473121133", dispositif="247", diploma="40025510", duration=3, year=3,
          label="BAC PRO METIERS DE L'ELECTRICITE", ministry="MENJ")
IBANS = ["FR7630006000000000000000167", "FR7630006000000000000000264", "FR7630006000000000000001719"]
NS = {"f": "http://www.cnasea.fr/fichier"}


@pytest.fixture(autouse=True)
def open_send_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files may go any day at any hour: the tests run whenever. The schedule of §3.4 (the default) has its own
    tests, on an injected clock (test_send_schedule.py); they pass their settings explicitly."""
    monkeypatch.setenv("APLYPRO_ASP_SEND_DAYS", "mon,tue,wed,thu,fri,sat,sun")
    monkeypatch.setenv("APLYPRO_ASP_SEND_WINDOW", "00:00-23:59")
    monkeypatch.setenv("APLYPRO_ASP_SKIP_PUBLIC_HOLIDAYS", "false")  # a run on 25 December passes too


def settings_for(namespace: str, **values: Any) -> AspSettings:
    # The namespace is a shared setting, read under its unprefixed name: each test gets its own schema.
    return AspSettings(APLYPRO_TOPIC_NAMESPACE=namespace, **values)


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = settings_for(namespace).db_schema(SCHEMA)
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_asp_gateway"])
    yield pool
    await pool.close()


@pytest.fixture
def options(namespace: str, tmp_path: Path) -> BuildOptions:
    options = build_options(settings_for(namespace, outbox_dir=tmp_path / "outbox"))
    assert options.schema != SCHEMA  # never the real schema
    return options


VERSIONS = itertools.count(1)  # every schooling and RIB fed is newer than the ones before it


async def feed(pool: asyncpg.Pool, handler: Callable[[Any, Any], Awaitable[None]], event: Any) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await handler(conn, event)


async def register(pool: asyncpg.Pool, n: int, *, with_rib: bool = True,
                   with_decision: bool = True) -> tuple[uuid.UUID, uuid.UUID]:
    """A student of the fictitious school, their schooling, its cap and (optionally) a RIB and the schooling's DA."""
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    identity = Identity(ine=f"00000000{n}AB", last_name=f"ZORGLUB{n}", first_names=("Léa",),
                        birth_date=date(2008, 3, 14), sex="female", birth_city_insee="35238",
                        birth_country_insee="99100",
                        address=Address(postal_code="35000", city_insee="35238", country_insee="99100"))
    await feed(pool, projection.on_student_registered,
               StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity))
    await feed(pool, projection.on_schooling_opened, SchoolingOpened(
        producer="students", schooling_id=schooling_id, student_id=student_id,
        establishment=Establishment(uai=UAI, name="LP test"), class_label="TLE PRO MELEC", school_year=2025,
        mef=MEF, start_date=date(2025, 9, 1), version=next(VERSIONS)))
    await feed(pool, projection.on_schooling_priced, SchoolingPriced(
        producer="calculator", schooling_id=schooling_id, student_id=student_id, school_year=2025, priced=True,
        daily_rate_cents=1500, yearly_cap_cents=60000))
    if with_rib:
        await add_rib(pool, student_id, n)
    if with_decision:
        await issue_decision(pool, student_id, schooling_id)
    return student_id, schooling_id


async def issue_decision(pool: asyncpg.Pool, student_id: uuid.UUID, schooling_id: uuid.UUID,
                         version: int = 1) -> str:
    """The documents service's DA of the schooling (DocumentReady `attribution`); returns its number."""
    number = da_number_of(schooling_id, version)
    await feed(pool, projection.on_document, decision_ready(student_id, schooling_id, number, version))
    return number


def decision_ready(student_id: uuid.UUID, schooling_id: uuid.UUID, number: str, version: int = 1,
                   kind: str = "attribution") -> DocumentReady:
    return DocumentReady(producer="documents", document_id=uuid.uuid4(), kind=kind,
                         schooling_id=schooling_id, student_id=student_id, number=number, version=version,
                         storage_ref="r.pdf", sha256="0" * 64, size_bytes=10)


async def add_rib(pool: asyncpg.Pool, student_id: uuid.UUID, n: int) -> None:
    await feed(pool, projection.on_rib_recorded, RibRecorded(
        producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
        owner_type="personal", holder_name=f"ZORGLUB{n} Léa", iban=IBANS[n], bic="AGRIFRPP",
        version=next(VERSIONS)))


def request(student_id: uuid.UUID, schooling_id: uuid.UUID, rank: int = 1) -> PaymentRequested:
    return PaymentRequested(producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(),
                            schooling_id=schooling_id, student_id=student_id, amount_cents=30000, day_count=20,
                            pfmp_rank=rank, version=1)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The gateway's commands configure structlog in-process (onto a runner's stream, closed once it returns):
    put it back for the tests that follow."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
