"""The gateway's payment gates on the real PostgreSQL, through its build: a request blocked, then released
when the cause is fixed (a mandated RIB; funding restored)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import RibRecorded

from .conftest import IBANS, UAI, VERSIONS, feed, register, request
from .ingest_world import ingest, integrations
from .return_samples import integration_line

pytestmark = pytest.mark.integration


def rib(student_id: uuid.UUID, owner_type: str) -> RibRecorded:
    return RibRecorded(producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
                       owner_type=owner_type, holder_name="ZORGLUB PARENT", iban=IBANS[0], bic="AGRIFRPP",
                       version=next(VERSIONS))


async def state_of(pool: asyncpg.Pool, payment_request_id: uuid.UUID) -> tuple[str, list[str]]:
    row = await pool.fetchrow("SELECT state, blocking_reasons FROM payment_requests WHERE payment_request_id = $1",
                              payment_request_id)
    assert row is not None
    return row["state"], row["blocking_reasons"]


async def test_an_adult_on_a_third_party_account_is_blocked_until_a_mandated_rib_arrives(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    # Léa (born 14 March 2008) is 18 when her April PFMP starts; the RIB is her parent's.
    student_id, schooling_id = await register(pool, 0, with_rib=False)
    await feed(pool, projection.on_rib_recorded, rib(student_id, "other_person"))
    adult = request(student_id, schooling_id).model_copy(update={"pfmp_start_date": date(2026, 4, 1)})
    minor = request(student_id, schooling_id, rank=2).model_copy(update={"pfmp_start_date": date(2026, 1, 5)})
    for event in (adult, minor):
        await feed(pool, projection.on_payment_requested, event)

    first = await build_payment_file(pool, options)
    # The PFMP that started while she was 17 goes out on the parent's account; the other one waits.
    assert (first.records, first.blocked) == (1, 1)
    assert await state_of(pool, minor.payment_request_id) == ("sent", [])
    assert await state_of(pool, adult.payment_request_id) == ("pending", ["adult_wrong_owner_type"])
    assert (await build_payment_file(pool, options)).records == 0  # nothing changed: still blocked

    # A third-party account with a signed mandate: released, once the ASP integrated the first PFMP (its
    # dossier is created once, §4.3: test_dossier_created_once_on_postgres.py).
    await feed(pool, projection.on_rib_recorded, rib(student_id, "mandate"))
    assert (await build_payment_file(pool, options)).records == 0
    assert await state_of(pool, adult.payment_request_id) == ("pending", ["awaiting_asp_integration"])
    record_id = await pool.fetchval("SELECT record_id FROM payment_requests WHERE payment_request_id = $1",
                                    minor.payment_request_id)
    await ingest(pool, options, integrations(str(first.file_name), [], integration_line(record_id, 0)))
    second = await build_payment_file(pool, options)
    assert (second.records, second.blocked) == (1, 0)
    assert await state_of(pool, adult.payment_request_id) == ("sent", [])


async def test_a_request_without_start_date_is_checked_on_its_request_day(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    # A PaymentRequested older than the field: requested today, when Léa is an adult.
    student_id, schooling_id = await register(pool, 1, with_rib=False)
    await feed(pool, projection.on_rib_recorded, rib(student_id, "moral_person"))
    old = request(student_id, schooling_id)
    assert old.pfmp_start_date is None
    await feed(pool, projection.on_payment_requested, old)
    assert (await build_payment_file(pool, options)).records == 0
    assert await state_of(pool, old.payment_request_id) == ("pending", ["adult_wrong_owner_type"])


async def test_a_switched_off_programme_parks_its_requests_until_funding_is_restored(
        pool: asyncpg.Pool, options: BuildOptions) -> None:
    off = replace(options, params=replace(options.params, funding_off=frozenset({"menj_public"})))
    student_id, schooling_id = await register(pool, 2)
    parked = request(student_id, schooling_id)
    await feed(pool, projection.on_payment_requested, parked)

    assert (await build_payment_file(pool, off)).records == 0
    assert await state_of(pool, parked.payment_request_id) == ("pending", ["funding_unavailable"])
    async with pool.acquire() as conn:
        assert (await requests_repo.status(conn))["blocked"] == {"funding_unavailable": 1}
    # Same setting, no data change: the parked request is not even checked again.
    again = await build_payment_file(pool, off)
    assert (again.records, again.blocked) == (0, 0)

    # Funding restored (the setting no longer lists the programme): released with no other event.
    restored = await build_payment_file(pool, options)
    assert (restored.records, restored.blocked) == (1, 0)
    assert await state_of(pool, parked.payment_request_id) == ("sent", [])
