"""One first payment per PFMP and per NUMADM, across all payment files ever built (issue 9).

Counted the way the ASP would see it: every ENREGISTREMENT of every file in the drop folder, parsed back.
"""

from __future__ import annotations

import uuid
from collections import Counter

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from lxml import etree

from .conftest import NS, feed, register, request

pytestmark = pytest.mark.integration


def pfmp_numbers_sent(options: BuildOptions) -> Counter[str]:
    """PRESTADOSS/NUMADM of every record of every file written (all are first payments: no ASP ids)."""
    return Counter(
        n.text or "" for path in options.outbox_dir.glob("*.xml")
        for n in etree.fromstring(path.read_bytes()).findall(
            "f:ENREGISTREMENTS/f:ENREGISTREMENT/f:INDIVIDU/f:LISTEDOSSIER/f:DOSSIER/f:LISTEPRESTADOSS/f:PRESTADOSS/"
            "f:NUMADM", NS))


async def reasons_of(pool: asyncpg.Pool, payment_request_id: uuid.UUID) -> tuple[str, list[str]]:
    row = await pool.fetchrow("SELECT state, blocking_reasons FROM payment_requests WHERE payment_request_id = $1",
                              payment_request_id)
    assert row is not None
    return row["state"], row["blocking_reasons"]


async def test_a_second_payment_request_for_a_paid_pfmp_never_makes_a_second_first_payment_record(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    student = await register(pool, 0)
    first = request(*student)
    await feed(pool, projection.on_payment_requested, first)
    assert (await build_payment_file(pool, options)).records == 1
    # A second request for the same PFMP (another id, not a rectification) arrives once the first is sent.
    second = request(*student).model_copy(update={"pfmp_id": first.pfmp_id})
    await feed(pool, projection.on_payment_requested, second)

    result = await build_payment_file(pool, options)

    # One ENREGISTREMENT for the PFMP over all files; the second request is blocked with its reason.
    assert result.file_name is None
    assert len(list(options.outbox_dir.glob("*.xml"))) == 1
    assert list(pfmp_numbers_sent(options).values()) == [1]
    assert await reasons_of(pool, second.payment_request_id) == ("pending", ["already_paid_first"])
    async with pool.acquire() as conn:
        assert (await requests_repo.status(conn))["blocked"] == {"already_paid_first": 1}


async def test_a_rectification_of_a_pfmp_not_integrated_yet_waits_instead_of_leaving_as_a_first_payment(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    student = await register(pool, 0)
    first = request(*student)
    await feed(pool, projection.on_payment_requested, first)
    await build_payment_file(pool, options)
    rectified = request(*student).model_copy(update={"pfmp_id": first.pfmp_id, "rectification": True,
                                                     "amount_cents": 45000})
    await feed(pool, projection.on_payment_requested, rectified)

    assert (await build_payment_file(pool, options)).file_name is None
    # The first payment is sent, not answered: no prestation id to modify yet (asp-exchange.md §8.1).
    assert await reasons_of(pool, rectified.payment_request_id) == ("pending", ["awaiting_asp_ids"])
    assert list(pfmp_numbers_sent(options).values()) == [1]


async def test_two_pfmps_with_the_same_pfmp_number_never_both_leave_as_first_payments(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # Two PFMPs of one schooling that got the same rank (the import's rank race): one NUMADM for both.
    student = await register(pool, 0)
    same_batch = [request(*student, rank=1), request(*student, rank=1)]
    for event in same_batch:
        await feed(pool, projection.on_payment_requested, event)
    assert (await build_payment_file(pool, options)).records == 1
    later = request(*student, rank=1)
    await feed(pool, projection.on_payment_requested, later)
    await build_payment_file(pool, options)

    assert list(pfmp_numbers_sent(options).values()) == [1]
    states = [await reasons_of(pool, e.payment_request_id) for e in [*same_batch, later]]
    assert sorted(states) == [("pending", ["numadm_already_sent"])] * 2 + [("sent", [])]


async def test_the_database_refuses_a_second_first_payment_record_for_a_pfmp_or_a_numadm(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # Two students: two PFMPs of one student would leave one file at a time (one dossier creation, §4.3).
    student = await register(pool, 0)
    events = [request(*student, rank=1), request(*await register(pool, 1), rank=2)]
    for event in events:
        await feed(pool, projection.on_payment_requested, event)
    await build_payment_file(pool, options)
    rows = await pool.fetch("SELECT * FROM file_records ORDER BY record_id")
    assert [r["first_payment"] for r in rows] == [True, True]
    other = request(*student, rank=3)
    await feed(pool, projection.on_payment_requested, other)
    insert = ("INSERT INTO file_records (payment_request_id, file_name, record_id, pfmp_id, pfmp_number, "
              "first_payment) SELECT payment_request_id, $1, record_id, $2, $3, true FROM payment_requests "
              "WHERE payment_request_id = $4")

    # Same PFMP, new number; then a new PFMP with a number already sent: both refused by an index.
    with pytest.raises(asyncpg.UniqueViolationError, match="one_first_payment_per_pfmp"):
        await pool.execute(insert, rows[0]["file_name"], rows[0]["pfmp_id"], "NEWNUMBER", other.payment_request_id)
    with pytest.raises(asyncpg.UniqueViolationError, match="one_first_payment_per_numadm"):
        await pool.execute(insert, rows[0]["file_name"], other.pfmp_id, rows[1]["pfmp_number"],
                           other.payment_request_id)
