"""G5 (asp-exchange.md §9.2): a record uploaded and never answered is reported after two working days, and the
later PFMP of its student, held behind it, shows why instead of waiting silently; nothing is sent twice. An
integrated request never paid is reported after 30 days. Real PostgreSQL, an injected clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import requests_repo, send_repo
from aplypro_asp_gateway.entrypoints.gauges import GATEWAY_GAUGES
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_contracts import PaymentRequestHeld
from aplypro_contracts.reasons import describe
from structlog.testing import capture_logs

from .conftest import feed, register, request
from .ingest_world import ingest, integrations
from .published import outbox_events
from .return_samples import integration_line

pytestmark = pytest.mark.integration

OVERDUE = "awaiting_asp_answer_overdue"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026: the 7th is a Monday."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


async def row(pool: asyncpg.Pool, payment_request_id: uuid.UUID) -> asyncpg.Record:
    found = await pool.fetchrow("SELECT * FROM payment_requests WHERE payment_request_id = $1", payment_request_id)
    assert found is not None
    return found


async def gauge(pool: asyncpg.Pool, name: str) -> int:
    [sql] = [g.sql for g in GATEWAY_GAUGES if g.name == name]
    return int(await pool.fetchval(sql))


async def test_an_unanswered_record_is_reported_and_the_pfmp_held_behind_it_says_so_without_a_resend(
    pool: asyncpg.Pool, options: BuildOptions
) -> None:
    student, schooling = await register(pool, 0)
    first, second = request(student, schooling, 1), request(student, schooling, 2)
    for event in (first, second):
        await feed(pool, projection.on_payment_requested, event)

    # Monday 02:00: the first PFMP leaves; the second waits for the ASP to create the dossier.
    built = await build_payment_file(pool, options, at(7, 2))
    assert built.records == 1
    await build_payment_file(pool, options, at(8, 2))
    assert (await row(pool, second.payment_request_id))["blocking_reasons"] == ["awaiting_asp_integration"]

    # Wednesday 01:59: not two working days yet.
    await build_payment_file(pool, options, at(9, 1, 59))
    async with pool.acquire() as conn:
        assert (await send_repo.status(conn))["answers_overdue"] == 0

    # Wednesday 02:00: reported (status, gauge, log code), and the held PFMP shows the distinct reason.
    with capture_logs() as logs:
        again = await build_payment_file(pool, options, at(9, 2))
    assert (again.file_name, again.records, again.blocked) == (None, 0, 1)
    [alert] = [e for e in logs if e["event"] == "asp_answer_overdue"]
    assert (alert["code"], alert["requests"], alert["files"]) == ("asp_answer_overdue", 1, [built.file_name])
    async with pool.acquire() as conn:
        assert (await send_repo.status(conn))["answers_overdue"] == 1
        assert (await requests_repo.status(conn))["blocked"] == {OVERDUE: 1}
    assert await gauge(pool, "aplypro_asp_answers_overdue") == 1
    held = await row(pool, second.payment_request_id)
    assert (held["state"], held["blocking_reasons"], held["recheck"]) == ("pending", [OVERDUE], False)
    assert describe(OVERDUE).owner == "asp-gateway"  # its words are in the shared catalog
    told: list[PaymentRequestHeld] = await outbox_events(pool, "PaymentRequestHeld")
    assert told[-1].reasons == (OVERDUE,)

    # Days later: still held, never re-sent, never created a second time; reported once.
    with capture_logs() as logs:
        await build_payment_file(pool, options, at(16, 2))
    assert [e for e in logs if e["event"] == "asp_answer_overdue"] == []
    assert await pool.fetchval("SELECT count(*) FROM asp_files") == 1
    assert await pool.fetchval("SELECT count(*) FROM file_records") == 1
    assert (await row(pool, first.payment_request_id))["state"] == "sent"

    # The answer comes at last: the held PFMP leaves with the ASP's ids, the report closes.
    record_id = await pool.fetchval("SELECT record_id FROM file_records WHERE payment_request_id = $1",
                                    first.payment_request_id)
    [answer] = await ingest(pool, options, integrations(str(built.file_name), [], integration_line(record_id, 0)))
    assert answer.applied == 1
    then = await build_payment_file(pool, options, at(17, 2))
    assert (then.records, then.blocked) == (1, 0)
    assert (await row(pool, second.payment_request_id))["state"] == "sent"
    async with pool.acquire() as conn:
        assert (await send_repo.status(conn))["answers_overdue"] == 0
    assert await gauge(pool, "aplypro_asp_answers_overdue") == 0

    # Integrated and never paid: reported after 30 days, once.
    integrated_at = (await row(pool, first.payment_request_id))["answered_at"]
    await build_payment_file(pool, options, integrated_at + timedelta(days=29))
    assert await gauge(pool, "aplypro_asp_payments_overdue") == 0
    with capture_logs() as logs:
        await build_payment_file(pool, options, integrated_at + timedelta(days=30))
    assert [(e["code"], e["requests"]) for e in logs if e["event"] == "asp_payment_overdue"] == [
        ("asp_payment_overdue", 1)]
    assert await gauge(pool, "aplypro_asp_payments_overdue") == 1
