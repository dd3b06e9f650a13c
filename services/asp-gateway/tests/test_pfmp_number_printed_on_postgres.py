"""The PFMP number the file carries is the one the état liquidatif printed (documents.md §4, asp-exchange.md
§4.3), announced by DocumentReady `liquidation`; the DA-current-at-first-file rule is only the fallback while no
état liquidatif announced one. On the real PostgreSQL."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
import structlog
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import DocumentReady, PfmpNumber
from lxml import etree

from .conftest import NS, da_number_of, feed, issue_decision, register, request

pytestmark = pytest.mark.integration


def liquidation_ready(student_id: uuid.UUID, schooling_id: uuid.UUID, da_number: str, version: int,
                      *numbers: tuple[uuid.UUID, str]) -> DocumentReady:
    """The documents service's état liquidatif, with the PFMP numbers it printed."""
    return DocumentReady(producer="documents", document_id=uuid.uuid4(), kind="liquidation",
                         schooling_id=schooling_id, student_id=student_id, number=da_number, version=version,
                         storage_ref="l.pdf", sha256="0" * 64, size_bytes=10,
                         pfmp_numbers=tuple(PfmpNumber(pfmp_id=p, number=n) for p, n in numbers))


async def numbers_sent(pool: asyncpg.Pool, file_name: str | None) -> tuple[list[str | None], list[str | None]]:
    content = await pool.fetchval("SELECT content FROM asp_files WHERE file_name = $1", file_name)
    root = etree.fromstring(content)
    return ([e.text for e in root.iterfind(".//f:DOSSIER/f:NUMADM", NS)],
            [e.text for e in root.iterfind(".//f:PRESTADOSS/f:NUMADM", NS)])


async def test_a_da_reissued_between_the_etat_liquidatif_and_the_first_file_keeps_the_printed_pfmp_number(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # DA version 1; the PFMP's payment request; its état liquidatif prints DA v1 + rank 01.
    student, schooling = await register(pool, 0)
    asked = request(student, schooling, rank=1)
    await feed(pool, projection.on_payment_requested, asked)
    printed = da_number_of(schooling, 1) + "01"
    await feed(pool, projection.on_document,
               liquidation_ready(student, schooling, da_number_of(schooling, 1), 1, (asked.pfmp_id, printed)))
    # The director reissues the DA (version 2) before the night's file.
    reissued = await issue_decision(pool, student, schooling, version=2)

    # The file: the dossier under the reissued DA, the PFMP under the number its état liquidatif printed.
    result = await build_payment_file(pool, options)
    assert result.records == 1
    assert await numbers_sent(pool, result.file_name) == ([reissued], [printed])
    assert await pool.fetchval("SELECT pfmp_number FROM file_records WHERE pfmp_id = $1", asked.pfmp_id) == printed


async def test_without_an_announced_number_the_fallback_is_the_da_current_at_the_first_file(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # An état liquidatif from before the field (no numbers), then a reissue: today's rule, DA current + rank.
    student, schooling = await register(pool, 1)
    asked = request(student, schooling, rank=2)
    await feed(pool, projection.on_payment_requested, asked)
    await feed(pool, projection.on_document, liquidation_ready(student, schooling, da_number_of(schooling), 1))
    reissued = await issue_decision(pool, student, schooling, version=2)
    result = await build_payment_file(pool, options)
    assert await numbers_sent(pool, result.file_name) == ([reissued], [reissued + "02"])


async def test_a_number_announced_after_the_first_file_never_renumbers_the_pfmp_and_is_reported(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    # The file left before the état liquidatif (fallback: DA v2 + 01); the état liquidatif then prints another.
    student, schooling = await register(pool, 2)
    reissued = await issue_decision(pool, student, schooling, version=2)
    asked = request(student, schooling, rank=1)
    await feed(pool, projection.on_payment_requested, asked)
    first = await build_payment_file(pool, options)
    assert await numbers_sent(pool, first.file_name) == ([reissued], [reissued + "01"])
    with structlog.testing.capture_logs() as logs:
        await feed(pool, projection.on_document, liquidation_ready(
            student, schooling, reissued, 1, (asked.pfmp_id, da_number_of(schooling, 1) + "01")))
    # Reported, never silently: the ASP holds the prestation under the number sent, which stays.
    [warning] = [e for e in logs if e["event"] == "pfmp_number_differs"]
    assert (warning["pfmp_id"], warning["against"]) == (str(asked.pfmp_id), "sent")

    # A replay of the same announcement, or a later version printing the same number, changes nothing.
    again = liquidation_ready(student, schooling, reissued, 2, (asked.pfmp_id, da_number_of(schooling, 1) + "01"))
    await feed(pool, projection.on_document, again)
    assert await pool.fetchval("SELECT count(*) FROM printed_pfmp_numbers WHERE pfmp_id = $1", asked.pfmp_id) == 1
