"""Rectifications wired end to end on the real database (asp-exchange.md §8, §9.2; lifecycles.md §2): a rectified
PFMP's request leaves as a modification of the prestation the ASP holds (its ids, the new total), never as a
second first payment; it waits while the ASP's ids or its payment answer are not known; the ASP's complement
or recovery order closes it."""

from __future__ import annotations

import uuid
from dataclasses import replace

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_asp_gateway.service_layer.ingest import IncomingReturn
from aplypro_contracts import PaymentRequested
from lxml import etree

from .conftest import NS, feed
from .ingest_world import Sent, ingest, integrations, paid, payments, row_of, send_requests, state_events
from .return_samples import NS as RETURN_NS

pytestmark = pytest.mark.integration


async def rectify(pool: asyncpg.Pool, sent: Sent, amount_cents: int) -> uuid.UUID:
    """The calculator's request for the rectified PFMP (pfmp's PfmpRectified → new total), with the street
    line the Indu address needs (§4.4)."""
    first = await row_of(pool, sent)
    await pool.execute("UPDATE students SET address_lines = '{\"3 rue de Nantes\"}' WHERE student_id = $1",
                       first["student_id"])
    event = PaymentRequested(producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=first["pfmp_id"],
                             schooling_id=first["schooling_id"], student_id=first["student_id"],
                             amount_cents=amount_cents, day_count=30, pfmp_rank=first["pfmp_rank"], version=2,
                             rectification=True)
    await feed(pool, projection.on_payment_requested, event)
    return event.payment_request_id


async def request_row(pool: asyncpg.Pool, request_id: uuid.UUID) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT pr.*, fr.variant, fr.first_payment, fr.record_id AS file_record_id FROM "
                              "payment_requests pr LEFT JOIN file_records fr USING (payment_request_id) "
                              "WHERE pr.payment_request_id = $1", request_id)
    assert row is not None
    return row


def prestadoss(content: bytes) -> etree._Element:
    [element] = etree.fromstring(content).findall(".//f:PRESTADOSS", NS)
    return element


def recovery_order(prestation: str, claimed: str, day: str = "12/06/2026", state: str = "EMIS") -> bytes:
    return (f'<LISTEOR xmlns="{RETURN_NS}"><ORDREREVERSEMENT><ETATPAIEMENT>{state}</ETATPAIEMENT>'
            f"<LISTEPRESTADOSS><PRESTADOSS><IDPRESTADOSS>{prestation}</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS>"
            f"<MTDEMANDEOR>{claimed}</MTDEMANDEOR><DATEOREFFECTIF>{day}</DATEOREFFECTIF></ORDREREVERSEMENT>"
            "</LISTEOR>").encode()


async def paid_first(pool: asyncpg.Pool, options: BuildOptions) -> tuple[str, Sent]:
    """One PFMP sent, integrated and paid 300 € by the ASP."""
    upload, [first] = await send_requests(pool, options, 1)
    await ingest(pool, options, integrations(upload, [first]),
                 payments("renvoi_paiement_APLYPROTEST_20260605.xml", paid(first)))
    assert (await row_of(pool, first))["state"] == "paid"
    return upload, first


async def test_an_upward_rectification_of_a_paid_pfmp_leaves_as_a_modification_and_is_paid_the_difference(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    _, first = await paid_first(pool, options)
    rectified = await rectify(pool, first, 45000)

    # The build sends it as the §8.1 modification: the three ASP ids, PRESTADOSS modification="O", the new total.
    result = await build_payment_file(pool, options)
    assert (result.records, result.blocked) == (1, 0)
    content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", result.file_name)
    presta = prestadoss(content)
    assert (presta.get("idPrestaDoss"), presta.get("modification")) == (first.prestation, "O")
    assert presta.findtext(".//f:MTTOTALFINANCEMENT", namespaces=NS) == "450"
    assert presta.findtext("f:NUMADM", namespaces=NS) == first.pfmp_number  # the same PFMP number, on purpose
    assert b'idIndividu="1200000"' in content
    assert b'idDoss="7600000"' in content
    assert etree.fromstring(content).find(".//f:LIBELLEVOIE", NS) is not None  # InduFrance street line
    row = await request_row(pool, rectified)
    assert (row["state"], row["variant"], row["first_payment"]) == ("sent", "rectification_up", False)
    # One first payment for the PFMP ever, and its NUMADM once as a first payment.
    assert await pool.fetchval("SELECT count(*) FROM file_records WHERE first_payment AND pfmp_number = $1",
                               first.pfmp_number) == 1

    # The ASP integrates it (same ids) and pays the complement: the PFMP's total paid is the new total.
    modified = Sent(rectified, row["file_record_id"], first.pfmp_id, first.pfmp_number, first.n)
    [answer] = await ingest(pool, options, integrations(result.file_name or "", [modified]))
    assert (answer.applied, answer.unmatched) == (1, 0)
    [complement] = await ingest(pool, options, payments("renvoi_paiement_APLYPROTEST_20260619.xml",
                                                        paid(first, net="150.00", day="19/06/2026")))
    assert (complement.applied, complement.unmatched) == (1, 0)
    rows = await pool.fetch("SELECT state, paid_cents FROM payment_requests WHERE pfmp_id = $1 ORDER BY record_id",
                            first.pfmp_id)
    assert [(r["state"], r["paid_cents"]) for r in rows] == [("paid", 30000), ("paid", 15000)]
    assert sum(r["paid_cents"] for r in rows) == 45000
    events = [e for e in await state_events(pool) if e.payment_request_id == rectified]
    assert [(e.state, e.version) for e in events] == [("integrated", 3), ("paid", 4)]  # after `ready` 1, Sent 2


async def test_a_rectification_waits_for_the_asp_ids_then_for_the_payment_then_leaves_as_a_modification(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # §9.2: the PFMP is rectified while its first payment is still on its way (sent, then integrated). The
    # payment return that comes meanwhile pays the OLD amount to the old request; nothing is paid twice, and
    # the rectification still goes out as a modification, once the ASP's total is known.
    upload, [first] = await send_requests(pool, options, 1)
    rectified = await rectify(pool, first, 45000)

    assert (await build_payment_file(pool, options)).file_name is None
    assert (await request_row(pool, rectified))["blocking_reasons"] == ["awaiting_asp_ids"]

    await ingest(pool, options, integrations(upload, [first]))  # wakes it: the ids are known, not the payment
    assert (await build_payment_file(pool, options)).file_name is None
    assert (await request_row(pool, rectified))["blocking_reasons"] == ["awaiting_asp_payment"]

    [payment] = await ingest(pool, options, payments("renvoi_paiement_APLYPROTEST_20260605.xml", paid(first)))
    assert payment.applied == 1
    assert ((await row_of(pool, first))["state"], (await row_of(pool, first))["paid_cents"]) == ("paid", 30000)
    assert (await request_row(pool, rectified))["state"] == "pending"  # the old amount paid the old request only

    result = await build_payment_file(pool, options)
    assert result.records == 1
    row = await request_row(pool, rectified)
    assert (row["state"], row["variant"]) == ("sent", "rectification_up")
    assert prestadoss(await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1",
                                          result.file_name)).get("idPrestaDoss") == first.prestation

    # The same payment return delivered again (another day's name) is a duplicate: it pays nothing new.
    modified = Sent(rectified, row["file_record_id"], first.pfmp_id, first.pfmp_number, first.n)
    await ingest(pool, options, integrations(result.file_name or "", [modified]))
    [replay] = await ingest(pool, options, payments("renvoi_paiement_APLYPROTEST_20260606.xml", paid(first)))
    assert (replay.applied, replay.duplicates) == (0, 1)
    assert (await request_row(pool, rectified))["state"] == "integrated"


async def test_a_downward_rectification_parks_while_blocked_and_becomes_a_recovery_when_allowed(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    _, first = await paid_first(pool, options)
    rectified = await rectify(pool, first, 15000)

    # §8.2: blocked by default (APLYPRO_ASP_NEGATIVE_RECTIFICATION_BLOCKED=true): parked, nothing sent.
    assert (await build_payment_file(pool, options)).file_name is None
    row = await request_row(pool, rectified)
    assert (row["state"], row["blocking_reasons"]) == ("pending", ["negative_rectification"])

    # The switch off (the next build re-checks what it parked): the modification leaves with the lower total; the ASP answers with a recovery order.
    open_options = replace(options, params=replace(options.params, negative_rectification_blocked=False))
    result = await build_payment_file(pool, open_options)
    assert result.records == 1
    row = await request_row(pool, rectified)
    assert (row["state"], row["variant"]) == ("sent", "rectification_down")
    content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", result.file_name)
    assert prestadoss(content).findtext(".//f:MTTOTALFINANCEMENT", namespaces=NS) == "150"
    modified = Sent(rectified, row["file_record_id"], first.pfmp_id, first.pfmp_number, first.n)
    await ingest(pool, options, integrations(result.file_name or "", [modified]))
    [order] = await ingest(pool, options, IncomingReturn("renvoi_ordrereversement_APLYPROTEST_20260612.xml",
                                                         recovery_order(first.prestation, "-150.00")))
    assert (order.kind, order.applied, order.unmatched) == ("recovery_orders", 1, 0)
    row = await request_row(pool, rectified)
    assert (row["state"], row["recovery"], row["paid_cents"]) == ("paid", True, 15000)
    events = [e for e in await state_events(pool) if e.payment_request_id == rectified]
    assert [(e.state, e.recovery) for e in events][-1] == ("paid", True)


async def test_a_full_cancellation_leaves_as_a_modification_to_zero_when_allowed(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    _, first = await paid_first(pool, options)
    rectified = await rectify(pool, first, 0)
    open_options = replace(options, params=replace(options.params, negative_rectification_blocked=False))

    result = await build_payment_file(pool, open_options)

    assert result.records == 1
    row = await request_row(pool, rectified)
    assert (row["state"], row["variant"]) == ("sent", "cancellation")
    content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", result.file_name)
    assert prestadoss(content).findtext(".//f:MTTOTALFINANCEMENT", namespaces=NS) == "0"
