"""Poison stays local (issue 9): a record that cannot be built is blocked with its reason, the rest goes out.

The contracts refuse control characters now, but the projection may hold rows from before: the bad data is
put there through the handler with an event built by `model_construct` (no validation), or straight into
the projection table, beside valid students.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo
from aplypro_asp_gateway.adapters.xml_file import payment_file
from aplypro_asp_gateway.domain.errors import RecordBuildError
from aplypro_asp_gateway.domain.model import Blocked, PaymentRecord
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, assemble, build_payment_file
from aplypro_contracts import Address, Identity, StudentRegistered
from lxml import etree
from structlog.testing import capture_logs

from .conftest import NS, PARAMS, feed, lea_request, register, request

pytestmark = pytest.mark.integration

BUILT_ON = datetime(2026, 5, 20, tzinfo=UTC).date()


def records_in(options: BuildOptions) -> list[Any]:
    """Every ENREGISTREMENT of every file in the drop folder."""
    return [e for path in sorted(options.outbox_dir.glob("*.xml"))
            for e in etree.fromstring(path.read_bytes()).findall("f:ENREGISTREMENTS/f:ENREGISTREMENT", NS)]


async def reregister(pool: asyncpg.Pool, student_id: Any, last_name: str, *, later: timedelta) -> None:
    """A newer StudentRegistered for a known student, built without validation as an old message could be."""
    row = await pool.fetchrow("SELECT * FROM students WHERE student_id = $1", student_id)
    assert row is not None
    valid = Identity(ine="000000001AB", last_name="X", first_names=tuple(row["first_names"]),
                     birth_date=row["birth_date"], sex=row["sex"], birth_city_insee=row["birth_city_insee"],
                     birth_country_insee=row["birth_country_insee"],
                     address=Address(postal_code=row["address_postal_code"], city_insee=row["address_city_insee"],
                                     country_insee=row["address_country_insee"]))
    event = StudentRegistered(producer="students", version=row["identity_version"] + 1, student_id=student_id,
                              identity=valid)  # the identity's next version
    await feed(pool, projection.on_student_registered, StudentRegistered.model_construct(**{
        **dict(event), "identity": Identity.model_construct(**{**dict(valid), "last_name": last_name}),
        "occurred_at": row["as_of"] + later}))


async def test_a_last_name_with_a_control_character_is_blocked_alone_and_the_others_are_paid(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # Three students; the middle one's last name gets a control character through an unvalidated event.
    students = [await register(pool, n) for n in range(3)]
    await reregister(pool, students[1][0], "ZORG\x01LUB1", later=timedelta(seconds=1))
    events = [request(*s) for s in students]
    for event in events:
        await feed(pool, projection.on_payment_requested, event)

    with capture_logs() as logs:
        result = await build_payment_file(pool, options)

    # The file holds the two valid records; the bad one is pending, blocked with its reason.
    assert (result.records, result.blocked) == (2, 1)
    rows = {r["payment_request_id"]: r for r in await pool.fetch("SELECT * FROM payment_requests")}
    assert sorted(e.get("idEnregistrement") for e in records_in(options)) == sorted(
        str(rows[e.payment_request_id]["record_id"]) for e in (events[0], events[2]))
    bad = rows[events[1].payment_request_id]
    assert (bad["state"], bad["blocking_reasons"]) == ("pending", ["invalid_characters"])
    async with pool.acquire() as conn:
        assert (await requests_repo.status(conn))["blocked"] == {"invalid_characters": 1}
    assert "ZORG" not in json.dumps(logs, default=str)

    # The name is fixed: the request is not lost, it leaves in the next file.
    await reregister(pool, students[1][0], "ZORGLUB1", later=timedelta(seconds=2))
    again = await build_payment_file(pool, options)
    assert (again.records, again.blocked) == (1, 0)
    assert len(records_in(options)) == 3
    assert await pool.fetchval("SELECT state FROM payment_requests WHERE payment_request_id = $1",
                               events[1].payment_request_id) == "sent"


async def test_a_record_lxml_refuses_is_blocked_as_record_build_failed_and_the_file_still_goes_out(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # U+FFFF is no control character (the domain lets it through) but XML cannot hold it: put straight into
    # the projection table as the commune code of one student's address, which the file carries verbatim.
    students = [await register(pool, n) for n in range(3)]
    await pool.execute("UPDATE students SET address_city_insee = '3523\uffff' WHERE student_id = $1",
                       students[0][0])
    events = [request(*s) for s in students]
    for event in events:
        await feed(pool, projection.on_payment_requested, event)

    result = await build_payment_file(pool, options)

    assert (result.records, result.blocked) == (2, 1)
    assert len(records_in(options)) == 2
    row = await pool.fetchrow("SELECT state, blocking_reasons FROM payment_requests WHERE payment_request_id = $1",
                              events[0].payment_request_id)
    assert row is not None
    assert (row["state"], row["blocking_reasons"]) == ("pending", ["record_build_failed"])
    # Nothing is retried in a loop: the next build, with no data change, builds nothing and fails nothing.
    assert (await build_payment_file(pool, options)).file_name is None


def test_the_domain_blocks_control_characters_in_names_and_codes() -> None:
    for changes in ({"last_name": "Dup\x00ré"}, {"first_names": ("Lé\x1ba",)}, {"postal_code": "340\x7f0"},
                    {"birth_city_insee": "3417\x85"}):
        base = lea_request()
        assert base.student is not None
        outcome = prepare(lea_request(student=base.student.__class__(**{**base.student.__dict__, **changes})),
                          PARAMS)
        assert isinstance(outcome, Blocked), changes
        assert outcome.reasons == ("invalid_characters",)


def test_assemble_keeps_the_good_records_when_one_cannot_be_built() -> None:
    # Each in a schooling of its own: two PFMPs of one dossier would leave one file at a time (§4.3).
    good, bad = (prepare(lea_request(record_id=n, pfmp_rank=n, schooling_id=uuid.uuid4()), PARAMS) for n in (1, 2))
    assert isinstance(good, PaymentRecord)
    assert isinstance(bad, PaymentRecord)
    # A value no check upstream caught: lxml refuses it.
    poisoned = bad.__class__(**{**bad.__dict__, "department": "0\x0034"})
    with pytest.raises(RecordBuildError):  # built as one file, the poisoned record would sink it
        payment_file(PARAMS, [good, poisoned], BUILT_ON)

    composition = assemble([good, poisoned], set(), PARAMS, BUILT_ON)

    assert composition.records == [good]
    assert composition.blocked == [Blocked(poisoned.payment_request_id, ("record_build_failed",))]
    assert composition.content == payment_file(PARAMS, [good], BUILT_ON)
