"""A PFMP whose first-payment record the ASP rejected is retried (lifecycles.md §2, Retries): the new request
leaves as a first payment again, under the same PFMP number, since the rejected record created nothing at the
ASP (asp-exchange.md §5.2, §6.1). One first payment the ASP did not reject per PFMP stays the rule (issue 9)."""

from __future__ import annotations

import asyncpg
import pytest
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file

from .conftest import add_rib, feed, request
from .ingest_world import Sent, ingest, integrations, rejects, row_of, send_requests
from .test_first_payment_once import pfmp_numbers_sent, reasons_of

pytestmark = pytest.mark.integration


async def test_the_retry_of_a_rejected_first_payment_leaves_as_a_first_payment_once(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, [sent] = await send_requests(pool, options, 1)
    await ingest(pool, options, rejects(upload, f"{sent.record_id};;;La coordonnée de paiement est invalide;"))
    assert (await row_of(pool, sent))["state"] == "rejected"
    first = await row_of(pool, sent)
    # The calculator's retry (new bank details): a new request for the same PFMP, not a rectification.
    await add_rib(pool, first["student_id"], 1)
    retry = request(first["student_id"], first["schooling_id"]).model_copy(update={"pfmp_id": sent.pfmp_id})
    await feed(pool, projection.on_payment_requested, retry)

    result = await build_payment_file(pool, options)

    # A second file, the same PFMP number under a new idEnregistrement, without ASP ids: a creation again.
    assert (result.records, result.blocked) == (1, 0)
    assert await reasons_of(pool, retry.payment_request_id) == ("sent", [])
    assert list(pfmp_numbers_sent(options).values()) == [2]
    records = await pool.fetch("SELECT record_id, pfmp_number, first_payment, rejected FROM file_records "
                               "ORDER BY record_id")
    assert [(r["pfmp_number"], r["first_payment"], r["rejected"]) for r in records] == [
        (sent.pfmp_number, True, True), (sent.pfmp_number, True, False)]

    # Integrated this time: a third request for the PFMP would be a second creation, refused as before.
    assert result.file_name is not None
    retried = Sent(retry.payment_request_id, records[1]["record_id"], sent.pfmp_id, sent.pfmp_number, 7)
    await ingest(pool, options, integrations(result.file_name, [retried]))
    assert (await pool.fetchval("SELECT state FROM payment_requests WHERE payment_request_id = $1",
                                retry.payment_request_id)) == "integrated"
    again = request(first["student_id"], first["schooling_id"]).model_copy(update={"pfmp_id": sent.pfmp_id})
    await feed(pool, projection.on_payment_requested, again)
    assert (await build_payment_file(pool, options)).file_name is None
    assert await reasons_of(pool, again.payment_request_id) == ("pending", ["already_paid_first"])
    assert list(pfmp_numbers_sent(options).values()) == [2]


async def test_the_database_still_refuses_a_second_first_payment_not_rejected(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    upload, [sent] = await send_requests(pool, options, 1)
    first = await row_of(pool, sent)
    other = request(first["student_id"], first["schooling_id"]).model_copy(update={"pfmp_id": sent.pfmp_id})
    await feed(pool, projection.on_payment_requested, other)
    insert = ("INSERT INTO file_records (payment_request_id, file_name, record_id, pfmp_id, pfmp_number, "
              "first_payment) SELECT payment_request_id, $1, record_id, $2, $3, true FROM payment_requests "
              "WHERE payment_request_id = $4")
    # Sent, not answered yet: a second first payment of the PFMP or of its number is refused by an index...
    with pytest.raises(asyncpg.UniqueViolationError, match="one_first_payment_per_pfmp"):
        await pool.execute(insert, upload, sent.pfmp_id, sent.pfmp_number, other.payment_request_id)
    # ... and accepted once the ASP rejected the first (the retry's own record).
    await ingest(pool, options, rejects(upload, f"{sent.record_id};;;L'IBAN ne fait pas partie de la zone SEPA.;"))
    await pool.execute(insert, upload, sent.pfmp_id, sent.pfmp_number, other.payment_request_id)


async def test_a_retry_that_comes_before_the_new_rib_waits_for_it_and_leaves_with_it(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    """The calculator retries on the new RIB's event; the gateway reads that RIB on another topic, maybe later. A
    retry built with the RIB the ASP rejected would be rejected again (CI saw it: stuck `rejected`)."""
    upload, [sent] = await send_requests(pool, options, 1)
    await ingest(pool, options, rejects(upload, f"{sent.record_id};;;Le RIB FR7630006000011234567890189 est Invalide;"))
    first = await row_of(pool, sent)
    rejected_rib = first["rib_id"]
    retry = request(first["student_id"], first["schooling_id"]).model_copy(update={"pfmp_id": sent.pfmp_id})
    await feed(pool, projection.on_payment_requested, retry)

    assert (await build_payment_file(pool, options)).file_name is None
    assert await reasons_of(pool, retry.payment_request_id) == ("pending", ["rib_rejected_by_asp"])

    await add_rib(pool, first["student_id"], 1)  # the new RIB reaches the gateway: the request is checked again
    result = await build_payment_file(pool, options)
    assert (result.records, result.blocked) == (1, 0)
    assert await reasons_of(pool, retry.payment_request_id) == ("sent", [])
    sent_with = await pool.fetchval("SELECT rib_id FROM payment_requests WHERE payment_request_id = $1",
                                    retry.payment_request_id)
    assert sent_with is not None
    assert sent_with != rejected_rib


@pytest.mark.parametrize("motif", [
    "Les codes saisis 35000 de la table REFHEXAPOSTE correspondent à un lieu-dit",  # the address: fixed elsewhere
    "Coord. paiement bloquees",  # coordinates the ASP blocked: relaunched once it unblocks them (§6.1)
])
async def test_a_rejection_the_same_rib_may_pass_does_not_hold_it(
    pool: asyncpg.Pool, options: BuildOptions, motif: str
) -> None:
    upload, [sent] = await send_requests(pool, options, 1)
    await ingest(pool, options, rejects(upload, f"{sent.record_id};;;{motif};"))
    first = await row_of(pool, sent)
    assert first["state"] == "rejected"
    retry = request(first["student_id"], first["schooling_id"]).model_copy(update={"pfmp_id": sent.pfmp_id})
    await feed(pool, projection.on_payment_requested, retry)  # the same RIB is fine
    assert (await build_payment_file(pool, options)).records == 1


async def test_only_the_pfmps_latest_answer_holds_a_rib(pool: asyncpg.Pool, options: BuildOptions) -> None:
    """A bank rejection followed by an answer with the same RIB (integrated: the ASP took it after all) holds
    nothing: the PFMP's next request (a rectification) leaves with that RIB."""
    upload, [sent] = await send_requests(pool, options, 1)
    await ingest(pool, options, rejects(upload, f"{sent.record_id};;;Le RIB FR7630006000011234567890189 est Invalide;"))
    first = await row_of(pool, sent)
    relaunch = request(first["student_id"], first["schooling_id"]).model_copy(update={"pfmp_id": sent.pfmp_id})
    await feed(pool, projection.on_payment_requested, relaunch)
    assert await reasons_of(pool, relaunch.payment_request_id) == ("pending", [])  # not checked yet
    assert (await build_payment_file(pool, options)).file_name is None  # held: the RIB the ASP rejected
    # As a relaunch sent before this gate existed: the same RIB sent again, and integrated this time.
    await pool.execute("UPDATE payment_requests SET blocking_reasons = '{}', recheck = true "
                       "WHERE payment_request_id = $1", relaunch.payment_request_id)
    await pool.execute("UPDATE payment_requests SET return_reasons = '{fallback_message}' "
                       "WHERE payment_request_id = $1", sent.payment_request_id)
    result = await build_payment_file(pool, options)
    assert result.file_name is not None
    record_id = await pool.fetchval("SELECT record_id FROM file_records WHERE payment_request_id = $1",
                                    relaunch.payment_request_id)
    await ingest(pool, options, integrations(result.file_name, [
        Sent(relaunch.payment_request_id, record_id, sent.pfmp_id, sent.pfmp_number, 7)]))
    await pool.execute("UPDATE payment_requests SET return_reasons = '{invalid_rib}' "
                       "WHERE payment_request_id = $1", sent.payment_request_id)  # the old bank rejection back
    rectified = request(first["student_id"], first["schooling_id"]).model_copy(update={"pfmp_id": sent.pfmp_id})
    await feed(pool, projection.on_payment_requested, rectified)
    await build_payment_file(pool, options)
    _, reasons = await reasons_of(pool, rectified.payment_request_id)
    assert "rib_rejected_by_asp" not in reasons
