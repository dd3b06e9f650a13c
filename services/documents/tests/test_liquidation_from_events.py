"""États liquidatifs issued from payment requests, on the real PostgreSQL, rendered for real."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest
import structlog
from aplypro_contracts import DecisionWithdrawalRequested, PfmpRectified, RibArchived, StudentRegistered
from aplypro_documents.domain.numbering import pfmp_number
from aplypro_documents.service_layer.render import IssueThenRender

from .conftest import (
    BIC,
    HOLDER,
    IBAN,
    Feed,
    announced,
    documents_of,
    identity_of,
    missing,
    payment,
    pdf_text,
    pfmp_validated,
    priced,
    rib,
    schooling_opened,
)

pytestmark = pytest.mark.integration
async def test_payment_requests_issue_then_refresh_the_etat_liquidatif(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    first_pfmp, second_pfmp = uuid.uuid4(), uuid.uuid4()
    with structlog.testing.capture_logs() as logs:
        await feed(StudentRegistered(producer="students", version=1, student_id=student_id,
                                     identity=identity_of("Garnier", "Noah")),
                   schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)),
                   priced(student_id, schooling_id))
        # The payment request comes first: no PFMP dates, no bank account yet. It waits in the queue.
        await feed(payment(student_id, schooling_id, first_pfmp, 1, 15000))
        assert await issuer.issue_batch() == 1  # the DA only
        await feed(pfmp_validated(student_id, schooling_id, first_pfmp, 1, date(2025, 10, 6), date(2025, 10, 17)))
        assert await issuer.issue_batch() == 0  # still no bank account
        await feed(rib(student_id))
        assert await issuer.issue_batch() == 1

        da = next(d for d in await documents_of(pool, schooling_id) if d["kind"] == "attribution")
        first_number = pfmp_number(da["number"], 1)
        (v1,) = [d for d in await documents_of(pool, schooling_id) if d["kind"] == "liquidation"]
        assert (v1["number"], v1["version"]) == (da["number"], 1)
        text = pdf_text(v1["storage_ref"])
        assert not missing(text, "ETAT LIQUIDATIF", "GARNIER Noah", f"{first_number} (v1)", "150 €",
                           "du 06/10/2025 au 17/10/2025", "Fait le 18/10/2025", IBAN, BIC, HOLDER,
                           "P141 – Enseignement scolaire public du second degré")

        # A second PFMP is requested for payment: version 2, one section per PFMP, numbers unchanged.
        await feed(pfmp_validated(student_id, schooling_id, second_pfmp, 2, date(2026, 1, 12), date(2026, 1, 23)),
                   payment(student_id, schooling_id, second_pfmp, 2, 12000))
        assert await issuer.issue_batch() == 1
        v2 = [d for d in await documents_of(pool, schooling_id) if d["kind"] == "liquidation"][-1]
        assert v2["version"] == 2
        assert v2["storage_ref"].endswith(f"/liquidation/{da['number']}-v2.pdf")
        text = pdf_text(v2["storage_ref"])
        assert not missing(text, f"{first_number} (v2)", f"{pfmp_number(da['number'], 2)} (v2)", "150 €", "120 €")

        # A new request with the same amount changes nothing printed: no version is spent on it.
        await feed(payment(student_id, schooling_id, second_pfmp, 2, 12000))
        assert await issuer.issue_batch() == 1
        assert [d["version"] for d in await documents_of(pool, schooling_id) if d["kind"] == "liquidation"] == [1, 2]
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM render_queue") == 0

        # The first PFMP is rectified to 5 days: its section becomes a rectificatif, at the new amount.
        rectified = pfmp_validated(student_id, schooling_id, first_pfmp, 1, date(2025, 10, 6), date(2025, 10, 17))
        await feed(PfmpRectified(producer="pfmp", pfmp=rectified.pfmp.model_copy(update={"status": "rectified",
                                                                                       "version": 3}),
                                 initiated_by="user", requested_by="director-1"),
                   payment(student_id, schooling_id, first_pfmp, 1, 7500))
        assert await issuer.issue_batch() == 1
        v3 = [d for d in await documents_of(pool, schooling_id) if d["kind"] == "liquidation"][-1]
        text = pdf_text(v3["storage_ref"])
        assert v3["version"] == 3
        assert not missing(text, "ETAT LIQUIDATIF RECTIFICATIF", f"{first_number} (v3)", "75 €", "120 €")

    ready = [e for e in await announced(pool) if e["kind"] == "liquidation"]
    assert [(e["number"], e["version"]) for e in ready] == [(da["number"], v) for v in (1, 2, 3)]
    assert {e["_key"] for e in ready} == {str(student_id)}
    assert not any("iban" in e for e in ready)
    # Bank details are personal data: never in a log line.
    assert {"document_issued", "liquidation_unchanged"} <= {line["event"] for line in logs}
    assert missing(repr(logs), IBAN, HOLDER, "Garnier") == [IBAN, HOLDER, "Garnier"]


async def test_no_etat_liquidatif_certifies_a_payment_on_a_withdrawn_da(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity_of("Blanc", "Léa")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)), priced(student_id, schooling_id),
               rib(student_id))
    assert await issuer.issue_batch() == 1
    await feed(DecisionWithdrawalRequested(producer="pfmp", schooling_id=schooling_id, student_id=student_id,
                                           reason="never_enrolled", requested_by="director-1"),
               pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
               payment(student_id, schooling_id, pfmp_id, 1, 15000))
    assert await issuer.issue_batch() == 2  # the retrait is issued, the état liquidatif dropped
    assert [d["kind"] for d in await documents_of(pool, schooling_id)] == ["attribution", "withdrawal"]


async def test_an_archived_rib_is_never_printed_and_the_next_one_is(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    """Issue 13: RibArchived (replaced, or kept archived by a merge) takes the RIB off the état liquidatif; a stale
    one (a newer RIB is held) changes nothing."""
    student_id, schooling_id, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    old = rib(student_id)
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id,
                                 identity=identity_of("Roux", "Inès")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)), priced(student_id, schooling_id),
               old, RibArchived(producer="students", rib_id=old.rib_id, student_id=student_id,
                                establishment_uai=old.establishment_uai, version=old.version),
               pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6), date(2025, 10, 17)),
               payment(student_id, schooling_id, pfmp_id, 1, 15000))
    assert await issuer.issue_batch() == 1  # the DA
    assert await issuer.issue_batch() == 0  # the état liquidatif waits for a current bank account
    assert [d["kind"] for d in await documents_of(pool, schooling_id)] == ["attribution"]

    new = rib(student_id).model_copy(update={"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"})
    await feed(new, RibArchived(producer="students", rib_id=old.rib_id, student_id=student_id,
                                establishment_uai=old.establishment_uai, version=old.version))  # stale now
    assert await issuer.issue_batch() == 1
    (liquidation,) = [d for d in await documents_of(pool, schooling_id) if d["kind"] == "liquidation"]
    text = pdf_text(liquidation["storage_ref"])
    assert not missing(text, "DE89", "COBADEFFXXX")
    assert IBAN not in text
