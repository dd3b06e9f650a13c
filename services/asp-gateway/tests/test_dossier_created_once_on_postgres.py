"""One creation per ASP dossier and individual (asp-exchange.md §4.3) on the real PostgreSQL: the ASP refuses
a second creation of a DA number ("n'est pas unique"). A second PFMP of a dossier the ASP has not integrated
yet waits (`awaiting_asp_integration`), in the file and while the first is `sent`; the integration line wakes
it and it leaves with the individual's and the dossier's ids, still as its PFMP's first payment; a rejected
first record frees it as a new creation; a new schooling of an integrated student carries the individual's id."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import xsd
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import Establishment, SchoolingOpened, SchoolingPriced

from .conftest import MEF, UAI, VERSIONS, feed, issue_decision, register, request
from .ingest_world import ingest, integrations, rejects
from .return_samples import integration_line

pytestmark = pytest.mark.integration

WAITING = ["awaiting_asp_integration"]


async def request_row(pool: asyncpg.Pool, payment_request_id: uuid.UUID) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM payment_requests WHERE payment_request_id = $1", payment_request_id)
    assert row is not None
    return dict(row)


async def file_of(pool: asyncpg.Pool, name: str | None) -> bytes:
    assert name is not None
    content: bytes = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", name)
    assert xsd.violations(content) == []
    return content


async def record_of(pool: asyncpg.Pool, payment_request_id: uuid.UUID) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM file_records WHERE payment_request_id = $1", payment_request_id)
    assert row is not None
    return dict(row)


async def two_pfmps(pool: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    """One student, one schooling, two PFMPs: both requests pending, the first one older (its record first)."""
    student, schooling = await register(pool, 0)
    first, second = request(student, schooling, 1), request(student, schooling, 2)
    for event in (first, second):
        await feed(pool, projection.on_payment_requested, event)
    return first.payment_request_id, second.payment_request_id


async def test_the_second_pfmp_waits_for_the_integration_then_leaves_with_the_ids_as_a_first_payment(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    first, second = await two_pfmps(pool)

    # One file, one record: the second would create the same dossier again.
    built = await build_payment_file(pool, options)
    assert (built.records, built.blocked) == (1, 1)
    waiting = await request_row(pool, second)
    assert (waiting["state"], waiting["blocking_reasons"]) == ("pending", WAITING)
    assert (await request_row(pool, first))["state"] == "sent"

    # The next exchange, before the ASP answered: still nothing for it, and no re-check until the answer.
    again = await build_payment_file(pool, options)
    assert (again.file_name, again.records) == (None, 0)
    waiting = await request_row(pool, second)
    assert (waiting["blocking_reasons"], waiting["recheck"]) == (WAITING, False)

    # The integration line of the first: the waiting request is flagged, and leaves with the ASP's ids.
    record = await record_of(pool, first)
    [answer] = await ingest(pool, options, integrations(str(built.file_name), [], integration_line(
        record["record_id"], 0)))
    assert answer.applied == 1
    assert (await request_row(pool, second))["recheck"] is True
    then = await build_payment_file(pool, options)
    assert (then.records, then.blocked) == (1, 0)
    content = await file_of(pool, then.file_name)
    assert b'<INDIVIDU idIndividu="1200000" modification="O">' in content
    assert b'<DOSSIER idDoss="7600000" modification="N">' in content
    assert b"idPrestaDoss" not in content  # the ASP creates the second PFMP's prestation
    assert (await record_of(pool, second))["first_payment"] is True
    assert (await request_row(pool, second))["state"] == "sent"


async def test_a_rejected_first_record_frees_the_next_as_a_new_creation(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    first, second = await two_pfmps(pool)
    built = await build_payment_file(pool, options)
    assert built.records == 1
    record = await record_of(pool, first)

    [answer] = await ingest(pool, options, rejects(
        str(built.file_name), f"{record['record_id']};Individu;;Le RIB FR76 3000 6000 est Invalide;"))
    assert answer.applied == 1
    assert (await request_row(pool, first))["state"] == "rejected"
    assert (await request_row(pool, second))["recheck"] is True

    then = await build_payment_file(pool, options)
    assert then.records == 1
    content = await file_of(pool, then.file_name)
    assert b"idIndividu" not in content  # nothing was created: a creation again
    assert b"idDoss" not in content
    assert (await record_of(pool, second))["first_payment"] is True


async def test_a_new_schooling_of_an_integrated_student_carries_the_individuals_id_only(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    student, schooling = await register(pool, 0)
    earlier = request(student, schooling)
    await feed(pool, projection.on_payment_requested, earlier)
    built = await build_payment_file(pool, options)
    record = await record_of(pool, earlier.payment_request_id)
    await ingest(pool, options, integrations(str(built.file_name), [], integration_line(record["record_id"], 0)))

    # Next school year: a new schooling (a new DA, a new dossier) of the same student.
    other = uuid.uuid4()
    await feed(pool, projection.on_schooling_opened, SchoolingOpened(
        producer="students", schooling_id=other, student_id=student, establishment=Establishment(uai=UAI, name="LP"),
        class_label="TLE PRO MELEC", school_year=2025, mef=MEF, start_date=date(2025, 9, 1), version=next(VERSIONS)))
    await feed(pool, projection.on_schooling_priced, SchoolingPriced(
        producer="calculator", schooling_id=other, student_id=student, school_year=2025, priced=True,
        daily_rate_cents=1500, yearly_cap_cents=60000))
    await issue_decision(pool, student, other)
    new = request(student, other)
    await feed(pool, projection.on_payment_requested, new)

    then = await build_payment_file(pool, options)
    assert then.records == 1
    content = await file_of(pool, then.file_name)
    assert b'<INDIVIDU idIndividu="1200000" modification="O">' in content
    assert b"idDoss" not in content
    assert b"idPrestaDoss" not in content
    assert (await record_of(pool, new.payment_request_id))["first_payment"] is True


async def test_other_students_are_not_held_back(pool: asyncpg.Pool, options: BuildOptions) -> None:
    await two_pfmps(pool)
    for n in (1, 2):
        await feed(pool, projection.on_payment_requested, request(*await register(pool, n)))

    built = await build_payment_file(pool, options)

    assert (built.records, built.blocked) == (3, 1)
