"""A hidden schooling (staff removed a learner who never came, or the ministry that reported it retracted it) gets
no first décision d'attribution, on the real PostgreSQL (documents.md §6, lifecycles.md §3 "remove"): the DA
queued when it opened is dropped, nothing queues another (its pricing, the director's "missing" command), staff
reintegrating it brings it back; a DA issued before the hiding stays (undoing it is a retrait) and can be
reissued; a replayed hiding is stale."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import SchoolingHiddenChanged, StudentRegistered
from aplypro_documents.entrypoints.service import build_spec
from aplypro_documents.service_layer.director_commands import DirectorCommands
from aplypro_documents.service_layer.render import IssueThenRender

from .conftest import Clock, Feed, documents_of, identity_of, priced, schooling_opened, settings_for
from .test_decisions_from_events import enrolled
from .test_director_commands import issue
from .test_reissue import queue_rows

pytestmark = pytest.mark.integration


@pytest.fixture
def command(pool: asyncpg.Pool, clock: Clock) -> Feed:
    """The director's DecisionIssueRequested, one transaction each (as the consumer)."""
    commands = DirectorCommands(clock=clock)

    async def feed(*events: Any) -> None:
        for event in events:
            async with pool.acquire() as conn, conn.transaction():
                await commands.on_issue_requested(conn, event)

    return feed


def hiding(student_id: uuid.UUID, schooling_id: uuid.UUID, hidden: bool, version: int) -> SchoolingHiddenChanged:
    return SchoolingHiddenChanged(producer="students", schooling_id=schooling_id, student_id=student_id,
                                  hidden=hidden, version=version)


def test_the_documents_consumer_reads_the_hidings() -> None:
    [subscription] = build_spec(settings_for("x.")).subscriptions
    assert "SchoolingHiddenChanged" in subscription.handlers


async def test_a_schooling_hidden_before_its_da_is_rendered_gets_none_until_reintegrated(
    feed: Feed, command: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity_of("Petit", "Noa")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)), priced(student_id, schooling_id))
    assert await queue_rows(pool) == 1  # its DA waits for a lane
    await feed(hiding(student_id, schooling_id, True, 1))  # retracted by its producer meanwhile
    assert await queue_rows(pool) == 0
    # What arrives after the hiding queues nothing: the pricing again, the director's "missing" DA.
    await feed(priced(student_id, schooling_id))
    await command(issue(student_id, schooling_id, "missing"))
    assert await issuer.issue_batch() == 0
    assert await documents_of(pool, schooling_id) == []

    # Reintegrated by staff (version 2); the hiding read again afterwards is stale and changes nothing.
    await feed(hiding(student_id, schooling_id, False, 2), hiding(student_id, schooling_id, True, 1))
    assert await issuer.issue_batch() == 1
    assert [(d["kind"], d["version"]) for d in await documents_of(pool, schooling_id)] == [("attribution", 1)]


async def test_a_da_issued_before_the_hiding_stays_and_can_be_reissued(
    feed: Feed, command: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = await enrolled(feed, issuer)
    await feed(hiding(student_id, schooling_id, True, 1))  # the calculator and the gateway block its payments
    assert [d["kind"] for d in await documents_of(pool, schooling_id)] == ["attribution"]
    await command(issue(student_id, schooling_id, "reissue"))  # documents.md §6: hidden ones included
    assert await queue_rows(pool) == 1
