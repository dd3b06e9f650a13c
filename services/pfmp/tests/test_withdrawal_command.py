"""`aplypro-pfmp withdraw-decision` on the real PostgreSQL: the request goes to the outbox, keyed by student."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import get_args

import asyncpg
import pytest
from aplypro_contracts import (
    DecisionWithdrawalRequested,
    Establishment,
    Mef,
    SchoolingOpened,
    default_registry,
)
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.entrypoints.cli import app
from aplypro_pfmp.service_layer import projection
from aplypro_pfmp.service_layer.decisions import WITHDRAWAL_REASONS, WithdrawDecision, request_withdrawal
from aplypro_servicekit.db import create_pool, migrate
from typer.testing import CliRunner, Result

pytestmark = pytest.mark.integration
DIRECTOR = "00000000-0000-4000-8000-00000000d1ec"


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("pfmp")
    assert schema != "pfmp"  # never the real schema
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
    yield pool
    await pool.close()


async def known_schooling(pool: asyncpg.Pool) -> SchoolingOpened:
    """A schooling as the students service announced it to pfmp."""
    event = SchoolingOpened(
        producer="students", schooling_id=uuid.uuid4(), student_id=uuid.uuid4(),
        establishment=Establishment(uai="0999001K", name="LP test"), class_label="TLE PRO", school_year=2025,
        mef=Mef(code="2473121133", dispositif="247", diploma="40025510", label="BAC PRO", ministry="MENJ"),
        start_date=date(2025, 9, 1), version=1,
    )  # fmt: skip
    async with pool.acquire() as conn, conn.transaction():
        await projection.on_schooling_opened(conn, event)
    return event


async def invoke(args: list[str], database_url: str, namespace: str) -> Result:
    # The CLI runs its own event loop (asyncio.run): give it a thread of its own.
    env = {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace}
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)


async def outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT topic, key, payload, headers FROM outbox ORDER BY id")


async def test_a_withdrawal_request_for_a_known_schooling_goes_to_the_outbox_keyed_by_student(
    pool: asyncpg.Pool, database_url: str, namespace: str
) -> None:
    schooling = await known_schooling(pool)
    result = await invoke(["withdraw-decision", str(schooling.schooling_id), "--reason", "never_attended",
                           "--requested-by", DIRECTOR], database_url, namespace)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["requested"] == str(schooling.schooling_id)

    (row,) = await outbox(pool)
    assert row["topic"] == namespace + PFMP_EVENTS
    assert bytes(row["key"]) == str(schooling.student_id).encode()  # an internal id, never an INE or a name
    assert json.loads(row["headers"])["event-type"] == "DecisionWithdrawalRequested"
    event = default_registry().parse(bytes(row["payload"]))
    assert isinstance(event, DecisionWithdrawalRequested)
    assert (event.schooling_id, event.student_id, event.reason, event.requested_by, str(event.event_id)) == (
        schooling.schooling_id, schooling.student_id, "never_attended", DIRECTOR, printed["event_id"])


async def test_an_unknown_schooling_or_reason_is_refused_and_nothing_is_sent(
    pool: asyncpg.Pool, database_url: str, namespace: str
) -> None:
    unknown = await invoke(["withdraw-decision", str(uuid.uuid4()), "--reason", "apprentice",
                            "--requested-by", DIRECTOR], database_url, namespace)
    assert unknown.exit_code == 1
    assert "unknown_schooling" in unknown.stderr
    schooling = await known_schooling(pool)
    bad_reason = await invoke(["withdraw-decision", str(schooling.schooling_id), "--reason", "moved_away",
                               "--requested-by", DIRECTOR], database_url, namespace)
    assert bad_reason.exit_code == 2  # typer's usage error: the four reasons of the contract only
    assert await outbox(pool) == []


def test_the_command_offers_exactly_the_reasons_of_the_contract() -> None:
    contract = DecisionWithdrawalRequested.model_fields["reason"].annotation
    assert set(WITHDRAWAL_REASONS) == set(get_args(contract))


async def test_a_request_names_its_requester(pool: asyncpg.Pool, namespace: str) -> None:
    schooling = await known_schooling(pool)
    async with pool.acquire() as conn:
        with pytest.raises(PfmpError) as refused:
            await request_withdrawal(conn, WithdrawDecision(schooling.schooling_id, "not_eligible", "  "),
                                     topic=namespace + PFMP_EVENTS)
    assert refused.value.code == "missing_requester"
