"""The ASP agents' command from the web application (LiquidationIssueRequested), on the real PostgreSQL, rendered
for real: documents queues the dossier's état liquidatif again under its own rules; an unchanged one keeps its
version."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest
from aplypro_contracts import LiquidationIssueRequested, RibRecorded
from aplypro_documents.domain.errors import SchoolingStudentMismatchError
from aplypro_documents.entrypoints.service import build_spec
from aplypro_documents.service_layer.asp_commands import on_liquidation_requested
from aplypro_documents.service_layer.render import IssueThenRender
from structlog.testing import capture_logs

from .conftest import UAI, Feed, documents_of, missing, payment, pdf_text, pfmp_validated, rib, settings_for
from .test_decisions_from_events import enrolled, withdrawal_request
from .test_reissue import queue_rows

pytestmark = pytest.mark.integration
AGENT = "agent-asp-7"
NEW_IBAN, NEW_HOLDER = "FR7630001007941234567890185", "Compte Nouveau-Fictif"


def asked(student_id: uuid.UUID, schooling_id: uuid.UUID) -> LiquidationIssueRequested:
    return LiquidationIssueRequested(producer="pfmp", schooling_id=schooling_id, student_id=student_id,
                                     requested_by=AGENT)


async def ask(pool: asyncpg.Pool, *events: LiquidationIssueRequested) -> None:
    """Hands each command to its handler, one transaction each (as the consumer)."""
    for event in events:
        async with pool.acquire() as conn, conn.transaction():
            await on_liquidation_requested(conn, event)


async def liquidations(pool: asyncpg.Pool, schooling_id: uuid.UUID) -> list[int]:
    return [d["version"] for d in await documents_of(pool, schooling_id) if d["kind"] == "liquidation"]


async def paid(feed: Feed, issuer: IssueThenRender) -> tuple[uuid.UUID, uuid.UUID]:
    """A student with a DA, a bank account and one PFMP requested for payment: état liquidatif v1 issued."""
    student_id, schooling_id = await enrolled(feed, issuer, "Moreau")
    pfmp_id = uuid.uuid4()
    await feed(rib(student_id), pfmp_validated(student_id, schooling_id, pfmp_id, 1, date(2025, 10, 6),
                                               date(2025, 10, 17)),
               payment(student_id, schooling_id, pfmp_id, 1, 15000))
    assert await issuer.issue_batch() == 1
    return student_id, schooling_id


def test_the_documents_consumer_takes_the_asp_agents_command() -> None:
    [subscription] = build_spec(settings_for("x.")).subscriptions
    assert subscription.handlers["LiquidationIssueRequested"] is on_liquidation_requested


async def test_a_regeneration_is_skipped_when_unchanged_and_issues_the_next_version_after_a_change(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = await paid(feed, issuer)
    assert await liquidations(pool, schooling_id) == [1]
    # Asked again with nothing changed (twice: a double click): taken once, and skipped, version 1 stays
    with capture_logs() as logs:
        await ask(pool, asked(student_id, schooling_id), asked(student_id, schooling_id))
        assert await queue_rows(pool) == 1
        assert await issuer.issue_batch() == 1
    assert await liquidations(pool, schooling_id) == [1]
    assert "liquidation_unchanged" in {line["event"] for line in logs}
    # The bank account changed: no état liquidatif by itself, until the agent asks; then version 2 prints it
    await feed(RibRecorded(producer="students", rib_id=uuid.uuid4(), student_id=student_id, establishment_uai=UAI,
                           owner_type="other_person", holder_name=NEW_HOLDER, iban=NEW_IBAN, bic="AGRIFRPPXXX",
                           version=10_000))
    assert await issuer.issue_batch() == 0
    await ask(pool, asked(student_id, schooling_id))
    assert await issuer.issue_batch() == 1
    assert await liquidations(pool, schooling_id) == [1, 2]
    latest = (await documents_of(pool, schooling_id))[-1]
    assert not missing(pdf_text(latest["storage_ref"]), NEW_IBAN, NEW_HOLDER, "150 €", "(v2)")
    assert await queue_rows(pool) == 0
    # Personal data never in a log line
    assert missing(repr(logs), NEW_IBAN, NEW_HOLDER, "Moreau") == [NEW_IBAN, NEW_HOLDER, "Moreau"]


async def test_nothing_is_queued_without_a_payment_request_a_da_or_after_a_retrait(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    # Unknown here, or a DA but no payment request: nothing to print
    unpaid_student, unpaid = await enrolled(feed, issuer, "Roussel")
    with capture_logs() as logs:
        await ask(pool, asked(uuid.uuid4(), uuid.uuid4()), asked(unpaid_student, unpaid))
    assert [line["reason"] for line in logs if line["event"] == "liquidation_request_dropped"] == [
        "unknown_schooling", "no_payment_request"]
    assert await queue_rows(pool) == 0
    # Withdrawn: no état liquidatif certifies a payment on a withdrawn DA
    student_id, schooling_id = await paid(feed, issuer)
    await feed(withdrawal_request(student_id, schooling_id))
    assert await issuer.issue_batch() == 1  # the retrait
    await ask(pool, asked(student_id, schooling_id))
    assert await queue_rows(pool) == 0
    assert await liquidations(pool, schooling_id) == [1]
    # A schooling of another student: a broken rule (dead-lettered by the consumer)
    with pytest.raises(SchoolingStudentMismatchError):
        await ask(pool, asked(uuid.uuid4(), schooling_id))
