"""Abrogations and retraits issued from events, on the real PostgreSQL, rendered for real."""

from __future__ import annotations

import json
import uuid
from datetime import date
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    DecisionWithdrawalRequested,
    Establishment,
    StudentRegistered,
    default_registry,
    to_wire,
)
from aplypro_contracts.topics import PFMP_EVENTS
from aplypro_documents.domain.decisions import SchoolingSpan, newer_schooling
from aplypro_documents.domain.errors import NoAttributionDecisionError, SchoolingStudentMismatchError
from aplypro_documents.rendering.formatting import long_date
from aplypro_documents.service_layer.content import PARIS
from aplypro_documents.service_layer.projection import Projection
from aplypro_documents.service_layer.render import IssueThenRender
from aplypro_servicekit.consumer import EventConsumer

from .conftest import (
    SCHOOL,
    Clock,
    Feed,
    announced,
    documents_of,
    identity_of,
    missing,
    pdf_text,
    priced,
    schooling_opened,
)

pytestmark = pytest.mark.integration
OTHER_SCHOOL = Establishment(uai="0690002B", name="Lycée professionnel de l'autre rive", head_name="Paul Rive")


def span(start: date, end: date | None, *, year: int = 2025, uai: str = "0690001A") -> SchoolingSpan:
    return SchoolingSpan(uuid.uuid4(), year, start, end, "2473121332", uai)


def test_a_schooling_is_superseded_by_one_that_is_open_ends_later_or_starts_later() -> None:
    today = date(2026, 3, 2)
    closed = span(date(2025, 9, 1), date(2026, 1, 4))
    assert newer_schooling(closed, [closed, span(date(2026, 1, 5), None)], today) is not None  # open
    assert newer_schooling(closed, [closed, span(date(2025, 9, 1), date(2026, 2, 1))], today) is not None  # ends later
    assert newer_schooling(closed, [closed, span(date(2025, 10, 1), date(2025, 12, 1))], today) is not None  # starts later
    # An older one, one of another year, or none at all supersede nothing; nor is an open-ended one superseded.
    assert newer_schooling(closed, [closed, span(date(2025, 8, 25), date(2025, 12, 1))], today) is None
    assert newer_schooling(closed, [closed, span(date(2026, 9, 1), None, year=2026)], today) is None
    assert newer_schooling(closed, [closed], today) is None
    assert newer_schooling(span(date(2025, 9, 1), None), [span(date(2026, 1, 5), None)], today) is None


async def enrolled(feed: Feed, issuer: IssueThenRender, name: str = "Lambert") -> tuple[uuid.UUID, uuid.UUID]:
    """A student with one open schooling of 2025-26 and its DA issued."""
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity_of(name, "Inès")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)),
               priced(student_id, schooling_id))
    assert await issuer.issue_batch() == 1
    return student_id, schooling_id


async def test_a_closed_schooling_superseded_in_the_year_gets_its_abrogation_once(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, first = await enrolled(feed, issuer)
    (da,) = await documents_of(pool, first)
    # The student moves to another establishment: the new schooling opens, the old one is re-sent closed.
    second = uuid.uuid4()
    await feed(schooling_opened(student_id, second, start=date(2026, 1, 5), school=OTHER_SCHOOL),
               priced(student_id, second),
               schooling_opened(student_id, first, start=date(2025, 9, 1), end=date(2026, 1, 4)))
    assert await issuer.issue_batch() == 2  # the new schooling's DA and the old one's abrogation

    kinds = {doc["kind"]: doc for doc in await documents_of(pool, first)}
    abrogation = kinds["abrogation"]
    assert (abrogation["number"], abrogation["version"]) == (da["number"], 1)  # the number of the DA it abrogates
    text = pdf_text(abrogation["storage_ref"])
    assert "ABROGATION DE DÉCISION D'ATTRIBUTION ANNUELLE" in text
    assert not missing(text, "LAMBERT Inès", da["number"], "(version 1)")
    assert "11 février 2008" in text  # long birth date
    assert "changé d'établissement" in text  # same MEF, new UAI
    assert "changé de formation" not in text
    assert abrogation["storage_ref"].endswith(f"/2025/abrogation/{da['number']}-v1.pdf")
    ready = [e for e in await announced(pool) if e["kind"] == "abrogation"]
    assert [(e["number"], e["version"], e["_key"], e["sha256"]) for e in ready] == [
        (da["number"], 1, str(student_id), abrogation["sha256"])]

    # Re-sent again, or with another event of the student: never a second abrogation.
    await feed(schooling_opened(student_id, first, start=date(2025, 9, 1), end=date(2026, 1, 4)),
               schooling_opened(student_id, second, start=date(2026, 1, 5), school=OTHER_SCHOOL))
    assert await issuer.issue_batch() == 0
    assert [d["kind"] for d in await documents_of(pool, first)] == ["abrogation", "attribution"]


async def test_an_abrogation_waits_until_the_schooling_has_closed(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool, clock: Clock
) -> None:
    student_id, first = await enrolled(feed, issuer)
    second = uuid.uuid4()
    # Known in advance: the first schooling ends on 31 March, the next one starts on 1 April.
    await feed(schooling_opened(student_id, first, start=date(2025, 9, 1), end=date(2026, 3, 31)),
               schooling_opened(student_id, second, start=date(2026, 4, 1)), priced(student_id, second))
    assert await issuer.issue_batch() == 1  # the new DA only: the first schooling is still open
    assert [d["kind"] for d in await documents_of(pool, first)] == ["attribution"]
    clock.today = date(2026, 3, 31)  # closed: end date ≤ today
    assert await issuer.issue_batch() == 1
    assert [d["kind"] for d in await documents_of(pool, first)] == ["abrogation", "attribution"]


async def test_a_closed_schooling_without_a_newer_one_is_not_abrogated(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, first = await enrolled(feed, issuer)
    await feed(schooling_opened(student_id, first, start=date(2025, 9, 1), end=date(2026, 1, 4)))
    assert await issuer.issue_batch() == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM render_queue") == 0


def withdrawal_request(student_id: uuid.UUID, schooling_id: uuid.UUID) -> DecisionWithdrawalRequested:
    return DecisionWithdrawalRequested(producer="pfmp", schooling_id=schooling_id, student_id=student_id,
                                       reason="never_attended", requested_by="00000000-0000-4000-8000-00000000d1ec")


async def test_a_withdrawal_request_issues_the_retrait_of_the_da_once(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool, clock: Clock
) -> None:
    student_id, schooling_id = await enrolled(feed, issuer, name="Moreau")
    (da,) = await documents_of(pool, schooling_id)
    await feed(withdrawal_request(student_id, schooling_id))
    assert await issuer.issue_batch() == 1
    retrait = next(d for d in await documents_of(pool, schooling_id) if d["kind"] == "withdrawal")
    assert (retrait["number"], retrait["version"]) == (da["number"], 1)
    text = pdf_text(retrait["storage_ref"])
    assert not missing(text, "RETRAIT DE LA DÉCISION D'ATTRIBUTION", "MOREAU Inès", da["number"])
    # It names the DA with the DA's own issue date, and takes effect on its own.
    assert f"n° {da['number']} du {long_date(da['created_at'].astimezone(PARIS).date())}" in text
    assert f"à compter du {long_date(clock.today)}" in text
    assert [e["kind"] for e in await announced(pool)].count("retrait") == 1

    # A second request changes nothing: a DA is withdrawn once.
    await feed(withdrawal_request(student_id, schooling_id))
    assert await issuer.issue_batch() == 0
    assert [d["kind"] for d in await documents_of(pool, schooling_id)] == ["attribution", "withdrawal"]


async def test_a_withdrawal_waits_for_a_da_still_being_rendered(
    feed: Feed, issuer: IssueThenRender, pool: asyncpg.Pool
) -> None:
    student_id, schooling_id = uuid.uuid4(), uuid.uuid4()
    await feed(StudentRegistered(producer="students", version=1, student_id=student_id, identity=identity_of("Roux", "Léo")),
               schooling_opened(student_id, schooling_id, start=date(2025, 9, 1)),
               withdrawal_request(student_id, schooling_id))
    assert await issuer.issue_batch() == 0  # no barème yet: neither the DA nor its retrait
    await feed(priced(student_id, schooling_id))
    assert await issuer.issue_batch() == 1  # the DA
    assert await issuer.issue_batch() == 1  # then its retrait
    assert [d["kind"] for d in await documents_of(pool, schooling_id)] == ["attribution", "withdrawal"]


async def test_a_withdrawal_without_a_da_breaks_a_rule(feed: Feed, issuer: IssueThenRender) -> None:
    student_id, schooling_id = await enrolled(feed, issuer)
    with pytest.raises(NoAttributionDecisionError) as unknown:
        await feed(withdrawal_request(student_id, uuid.uuid4()))
    assert unknown.value.code == "no_attribution_decision"
    with pytest.raises(SchoolingStudentMismatchError):
        await feed(withdrawal_request(uuid.uuid4(), schooling_id))
    # A MEF the barème does not price never gets a DA, so neither a retrait.
    unpriced = uuid.uuid4()
    await feed(schooling_opened(student_id, unpriced, start=date(2025, 9, 1), school=SCHOOL),
               priced(student_id, unpriced, is_priced=False))
    with pytest.raises(NoAttributionDecisionError):
        await feed(withdrawal_request(student_id, unpriced))


async def test_the_consumer_dead_letters_a_withdrawal_without_a_da(
    pool: asyncpg.Pool, projection: Projection, namespace: str
) -> None:
    request = withdrawal_request(uuid.uuid4(), uuid.uuid4())
    body, headers = to_wire(request)
    topic = namespace + PFMP_EVENTS
    consumer = EventConsumer(name="decisions", service="documents", pool=pool,
                             registry=default_registry(), transient_attempts=1,
                             handlers={"DecisionWithdrawalRequested": projection.on_withdrawal_requested})
    record: Any = SimpleNamespace(topic=topic, partition=0, offset=7, key=str(request.student_id).encode(),
                                  value=body, headers=list(headers.items()))
    await consumer.process_batch([record])
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT topic, payload, headers FROM outbox")
    assert [(r["topic"], bytes(r["payload"])) for r in rows] == [(topic + ".dlt", body)]
    assert json.loads(rows[0]["headers"])["dlt-reason-code"] == "no_attribution_decision"
