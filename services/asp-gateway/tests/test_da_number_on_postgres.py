"""DA and PFMP numbers on the real database (documents.md §4, asp-exchange.md §4.3): the file carries the
schooling's latest DA as the documents service printed it; a PFMP's number is fixed by its first record and
never changes, even when the DA is reissued later (a rectification modifies the prestation under the number
it was created with); an abrogation changes neither."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
import pytest
from aplypro_asp_gateway.domain.model import Blocked
from aplypro_asp_gateway.domain.readiness import prepare
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from lxml import etree

from .conftest import NS, PARAMS, da_number_of, decision_ready, feed, issue_decision, lea_request, request
from .ingest_world import ingest, integrations, paid, payments, row_of, send_requests
from .test_rectifications_on_postgres import rectify


def test_a_request_without_a_da_number_is_blocked_with_every_other_reason() -> None:
    blocked = prepare(replace(lea_request(), da_number=None, rib=None), PARAMS)
    assert isinstance(blocked, Blocked)
    assert blocked.reasons == ("missing_rib", "missing_attributive_decision")


def numbers(content: bytes) -> tuple[list[str | None], list[str | None]]:
    root = etree.fromstring(content)
    return ([e.text for e in root.iterfind(".//f:DOSSIER/f:NUMADM", NS)],
            [e.text for e in root.iterfind(".//f:PRESTADOSS/f:NUMADM", NS)])


@pytest.mark.integration
async def test_a_reissued_da_goes_in_the_dossier_and_the_pfmp_keeps_the_number_it_was_first_sent_with(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # A PFMP sent under DA version 1, integrated and paid.
    upload, [first] = await send_requests(pool, options, 1)
    row = await row_of(pool, first)
    student, schooling = row["student_id"], row["schooling_id"]
    assert first.pfmp_number == da_number_of(schooling, 1) + "01"
    await ingest(pool, options, integrations(upload, [first]),
                 payments("renvoi_paiement_APLYPROTEST_20260605.xml", paid(first)))
    # The director reissues the DA (version 2), then the schooling is abrogated (the student moved on): the
    # abrogation prints the same DA number and changes nothing here.
    reissued = await issue_decision(pool, student, schooling, version=2)
    await feed(pool, projection.on_document, decision_ready(student, schooling, reissued, 1, "abrogation"))

    # The PFMP is rectified: the modification carries the reissued DA and the PFMP's original number.
    await rectify(pool, first, 45000)
    result = await build_payment_file(pool, options)
    assert (result.records, result.blocked) == (1, 0)
    content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", result.file_name)
    assert numbers(content) == ([reissued], [first.pfmp_number])

    # A new PFMP of the schooling, first sent now, is numbered from the DA current now.
    later = request(student, schooling, rank=2)
    await feed(pool, projection.on_payment_requested, later)
    result = await build_payment_file(pool, options)
    assert result.records == 1
    content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", result.file_name)
    assert numbers(content) == ([reissued], [reissued + "02"])
