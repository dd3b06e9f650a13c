"""The confirmed director's commands from the web application (DecisionIssueRequested, DecisionAbrogationRequested),
on the real PostgreSQL, rendered for real: documents applies its own rules to each."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import DecisionAbrogationRequested, DecisionIssueRequested, StudentRegistered
from aplypro_documents.domain.errors import NoAttributionDecisionError, SchoolingStudentMismatchError
from aplypro_documents.entrypoints.service import build_spec
from aplypro_documents.service_layer.director_commands import DirectorCommands
from aplypro_documents.service_layer.render import IssueThenRender

from .conftest import Clock, Feed, documents_of, identity_of, priced, schooling_opened, settings_for
from .test_decisions_from_events import OTHER_SCHOOL, enrolled, withdrawal_request
from .test_reissue import new_bareme, queue_rows

pytestmark = pytest.mark.integration
DIRECTOR = "00000000-0000-4000-8000-00000000d1ec"


@pytest.fixture
def command(pool: asyncpg.Pool, clock: Clock) -> Feed:
    """Hands a director's command to its handler, one transaction each (as the consumer)."""
    commands = DirectorCommands(clock=clock)
    handlers: dict[str, Any] = {"DecisionIssueRequested": commands.on_issue_requested,
                                "DecisionAbrogationRequested": commands.on_abrogation_requested}

    async def feed(*events: Any) -> None:
        for event in events:
            async with pool.acquire() as conn, conn.transaction():
                await handlers[event.event_type](conn, event)

    return feed


def issue(student_id: uuid.UUID, schooling_id: uuid.UUID, mode: str) -> DecisionIssueRequested:
    return DecisionIssueRequested(producer="pfmp", schooling_id=schooling_id, student_id=student_id, mode=mode,
                                  requested_by=DIRECTOR)


def abrogate(student_id: uuid.UUID, schooling_id: uuid.UUID) -> DecisionAbrogationRequested:
    return DecisionAbrogationRequested(producer="pfmp", schooling_id=schooling_id, student_id=student_id,
                                       requested_by=DIRECTOR)


def test_the_documents_consumer_takes_the_directors_commands() -> None:
    [subscription] = build_spec(settings_for("x.")).subscriptions
    assert {"DecisionIssueRequested", "DecisionAbrogationRequested"} <= set(subscription.handlers)


async def test_issuing_a_missing_da_queues_it_again_once(
    feed: Feed, command: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity_of("Petit", "Noa")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)), priced(student_id, schooling_id))
    # The renderer gave up on it (dead-lettered): no DA, nothing queued
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM render_queue WHERE schooling_id = $1", schooling_id)
    assert await issuer.issue_batch() == 0
    await command(issue(student_id, schooling_id, "missing"))
    assert await issuer.issue_batch() == 1
    assert [(d["kind"], d["version"]) for d in await documents_of(pool, schooling_id)] == [("attribution", 1)]
    # Asked again (a second click, another page): the DA is issued, nothing is queued
    await command(issue(student_id, schooling_id, "missing"), issue(student_id, uuid.uuid4(), "missing"))
    assert await queue_rows(pool) == 0


async def test_a_reissue_is_skipped_when_unchanged_issued_after_a_change_and_never_after_a_retrait(
    feed: Feed, command: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = await enrolled(feed, issuer)
    await command(issue(student_id, schooling_id, "reissue"))
    assert await issuer.issue_batch() == 1  # taken, and skipped: the same content
    assert issuer.unchanged == 1
    assert [d["version"] for d in await documents_of(pool, schooling_id)] == [1]
    await feed(new_bareme(student_id, schooling_id))
    await command(issue(student_id, schooling_id, "reissue"))
    assert await issuer.issue_batch() == 1
    assert [d["version"] for d in await documents_of(pool, schooling_id)] == [1, 2]
    # Withdrawn: final, never reissued
    await feed(withdrawal_request(student_id, schooling_id), new_bareme(student_id, schooling_id))
    assert await issuer.issue_batch() == 1  # the retrait
    await command(issue(student_id, schooling_id, "reissue"))
    assert await queue_rows(pool) == 0
    # A schooling of another student: a broken rule (dead-lettered by the consumer)
    with pytest.raises(SchoolingStudentMismatchError):
        await command(issue(uuid.uuid4(), schooling_id, "reissue"))


async def test_an_abrogation_is_issued_only_when_due(
    feed: Feed, command: Feed, issuer: IssueThenRender, pool: asyncpg.Pool, clock: Clock
) -> None:
    student_id, first = await enrolled(feed, issuer)
    # Open and alone in its year: not due, nothing queued
    await command(abrogate(student_id, first))
    assert await queue_rows(pool) == 0
    # The student moves on 5 January; the old schooling closed on the 4th
    second = uuid.uuid4()
    await feed(schooling_opened(student_id, second, start=date(2026, 1, 5), school=OTHER_SCHOOL),
               priced(student_id, second),
               schooling_opened(student_id, first, start=date(2025, 9, 1), end=date(2026, 1, 4)))
    async with pool.acquire() as conn:  # the abrogation queued on its own was dead-lettered
        await conn.execute("DELETE FROM render_queue WHERE kind = 'abrogation'")
    assert await issuer.issue_batch() == 1  # the new schooling's DA only
    await command(abrogate(student_id, first))
    assert await issuer.issue_batch() == 1
    assert [d["kind"] for d in await documents_of(pool, first)] == ["abrogation", "attribution"]
    # Abrogated: final, a second request queues nothing
    await command(abrogate(student_id, first))
    assert await queue_rows(pool) == 0
    # The current schooling (open) is not abrogeable; a schooling without DA breaks a rule
    await command(abrogate(student_id, second))
    assert await queue_rows(pool) == 0
    with pytest.raises(NoAttributionDecisionError):
        await command(abrogate(student_id, uuid.uuid4()))
