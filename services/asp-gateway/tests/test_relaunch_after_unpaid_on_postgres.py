"""A PFMP the ASP integrated and then could not pay (`unpaid`, asp-exchange.md §6.2), relaunched by the director
(PaymentRetryRequested → the calculator's new request, lifecycles.md §2 Retries): the ASP already holds its
prestation, so the relaunch leaves once as a modification of it (its ids, the same PFMP number, the whole
amount: the ASP paid nothing, it pays the total), never as a second creation; once paid, nothing more goes."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_local.fake_asp import Behaviour
from aplypro_local.fake_asp.pickup import parse_records
from lxml import etree

from .conftest import NS, feed, register, request
from .fake_asp_world import fake_asp
from .ingest_world import Sent, ingest, integrations, paid, payments, row_of, send_requests
from .return_samples import payment
from .test_first_payment_once import reasons_of
from .test_sftp_rectifications import Exchange, clock, pfmp_rows

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("logging_restored")]



def unpaid(sent: Sent) -> str:
    return payment("INVALIDE", sent.prestation, day="05/06/2026", code="RJT", label="Compte clos")


async def test_an_unpaid_pfmp_relaunched_leaves_once_as_a_modification_and_is_paid_once(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # Sent, integrated, then refused by the ASP's payment run: unpaid.
    upload, [first] = await send_requests(pool, options, 1)
    await ingest(pool, options, integrations(upload, [first]),
                 payments("renvoi_paiement_APLYPROTEST_20260605.xml", unpaid(first)))
    row = await row_of(pool, first)
    assert row["state"] == "unpaid"

    # The director relaunches: the calculator's new request for the same PFMP, not a rectification.
    relaunch = request(row["student_id"], row["schooling_id"]).model_copy(update={"pfmp_id": first.pfmp_id})
    await feed(pool, projection.on_payment_requested, relaunch)
    result = await build_payment_file(pool, options)

    # One record: the prestation's ids with modification O, the same PFMP number, the whole amount.
    assert (result.records, result.blocked) == (1, 0)
    content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", result.file_name)
    [presta] = etree.fromstring(content).findall(".//f:PRESTADOSS", NS)
    assert (presta.get("idPrestaDoss"), presta.get("modification")) == (first.prestation, "O")
    assert presta.findtext("f:NUMADM", namespaces=NS) == first.pfmp_number
    assert presta.findtext(".//f:MTTOTALFINANCEMENT", namespaces=NS) == "300"
    records = await pool.fetch("SELECT record_id, first_payment, variant FROM file_records ORDER BY record_id")
    assert [(r["first_payment"], r["variant"]) for r in records] == [(True, "first_payment"), (False, "relaunch")]
    assert await reasons_of(pool, relaunch.payment_request_id) == ("sent", [])

    # The ASP integrates it under the same ids and pays it: 300 € paid for the PFMP, once.
    again = Sent(relaunch.payment_request_id, records[1]["record_id"], first.pfmp_id, first.pfmp_number, first.n)
    await ingest(pool, options, integrations(str(result.file_name), [again]),
                 payments("renvoi_paiement_APLYPROTEST_20260612.xml", paid(again, day="12/06/2026")))
    rows = await pool.fetch("SELECT state, paid_cents FROM payment_requests WHERE pfmp_id = $1 ORDER BY record_id",
                            first.pfmp_id)
    assert [(r["state"], r["paid_cents"]) for r in rows] == [("unpaid", None), ("paid", 30000)]

    # A further request for the paid PFMP (a relaunch replayed) is never sent: one payment per PFMP.
    late = request(row["student_id"], row["schooling_id"]).model_copy(update={"pfmp_id": first.pfmp_id})
    await feed(pool, projection.on_payment_requested, late)
    assert (await build_payment_file(pool, options)).file_name is None
    assert await reasons_of(pool, late.payment_request_id) == ("pending", ["already_paid_first"])
    assert await pool.fetchval("SELECT count(*) FROM file_records WHERE pfmp_id = $1", first.pfmp_id) == 2


async def test_a_relaunch_waits_while_another_request_of_the_pfmp_is_on_its_way(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, [first] = await send_requests(pool, options, 1)
    await ingest(pool, options, integrations(upload, [first]),
                 payments("renvoi_paiement_APLYPROTEST_20260605.xml", unpaid(first)))
    row = await row_of(pool, first)
    relaunch = request(row["student_id"], row["schooling_id"]).model_copy(update={"pfmp_id": first.pfmp_id})
    await feed(pool, projection.on_payment_requested, relaunch)
    assert (await build_payment_file(pool, options)).records == 1
    # A second relaunch while the first is sent: it waits for the ASP's answer, it never leaves beside it.
    second = request(row["student_id"], row["schooling_id"]).model_copy(update={"pfmp_id": first.pfmp_id})
    await feed(pool, projection.on_payment_requested, second)
    assert (await build_payment_file(pool, options)).file_name is None
    assert await reasons_of(pool, second.payment_request_id) == ("pending", ["awaiting_asp_payment"])


async def test_over_sftp_the_fake_asp_pays_a_relaunched_unpaid_pfmp_once(
    pool: asyncpg.Pool, database_url: str, namespace: str, tmp_path: Path
) -> None:
    # Narrated, with the real commands: the fake ASP integrates the first payment and answers it INVALIDE; the
    # director's relaunch goes out as a modification of the prestation, the fake pays its whole amount once.
    first = request(*await register(pool, 0))
    await feed(pool, projection.on_payment_requested, first)
    behaviour = Behaviour(remove_taken=False, unpaid_rate=1.0)
    async with fake_asp(tmp_path, behaviour, clock=clock) as world:
        asp = Exchange(world, database_url, namespace, tmp_path)
        await asp.send()
        await asp.poll()
        assert world.fake.emit_payments() is not None
        await asp.poll()
        assert await pfmp_rows(pool, first.pfmp_id) == [("unpaid", None, False, "first_payment")]

        behaviour.unpaid_rate = 0.0  # the cause fixed: the relaunch is paid
        relaunch = first.model_copy(update={"payment_request_id": uuid.uuid4(), "event_id": uuid.uuid4()})
        await feed(pool, projection.on_payment_requested, relaunch)
        [sent] = await asp.send()
        [record] = parse_records((world.fake.upload_dir / str(sent["name"])).read_bytes())
        assert (record.modification, record.amount_euros) == (True, 300)
        await asp.poll()
        payments_return = world.fake.emit_payments()
        assert payments_return is not None
        assert b"<MTNET>300.00</MTNET>" in (world.fake.return_dir / payments_return).read_bytes()
        await asp.poll()
        assert world.fake.violations == []
        assert set(world.fake.record_counts.values()) == {1}  # every idEnregistrement received once
    rows = await pfmp_rows(pool, first.pfmp_id)
    assert rows == [("unpaid", None, False, "first_payment"), ("paid", 30000, False, "relaunch")]
