"""The deferred SYGNE details (import-all, imports.md §5.7, §9): the list imported at once with each detail it
needs queued in the same transaction, then the detail lane applying them as the inline import would, over the
fake SYGNE's real HTTP and the real PostgreSQL: 404s, 429s, a crash mid-batch, two lanes at once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_local.fake_sygne import FakeSygneServer, Fault, serve
from aplypro_local.fake_sygne.sample import sample_state
from aplypro_students.adapters.postgres_detail_queue import queue_depth
from aplypro_students.adapters.sygne.client import SygneClient
from aplypro_students.adapters.sygne.settings import SygneSettings
from aplypro_students.config import StudentsSettings
from aplypro_students.service_layer.import_sygne import SygneReport, import_sygne
from aplypro_students.service_layer.sygne_details import DrainReport, LanePolicy, drain_once

from .conftest import UAI
from .test_sygne_import_postgres import GRIS, TODAY, Db, open_db

pytestmark = pytest.mark.integration
IDENTITY_EVENTS = ("StudentIdentityChanged", "StudentAddressChanged")
WITH_DETAIL = {"000111222AA", "000111223AB", "000111226AE", "000111227AF", "000111229AH"}  # the sample's
# imported students that SYGNE details (GRIS, imported too, answers 404)


@pytest.fixture
async def db(database_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Db]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", namespace)
    db = await open_db(database_url, StudentsSettings())
    try:
        yield db
    finally:
        await db.pool.close()


@pytest.fixture
def fake() -> Iterator[FakeSygneServer]:
    with serve(sample_state()) as server:
        yield server


def client(fake: FakeSygneServer) -> SygneClient:
    """As the lane opens it: one try a call, the queue retries."""
    return SygneClient(SygneSettings.model_validate({
        "base_url": fake.base_url, "token_url": fake.token_url, "client_id": "aplypro",
        "secret": "fake-sygne-secret", "max_attempts": 1}))


async def deferred_import(db: Db, fake: FakeSygneServer) -> SygneReport:
    async with client(fake) as api:
        return await import_sygne(db.pool, api, UAI, 2025, today=TODAY, topic=db.settings.topic(STUDENTS_EVENTS),
                                  concurrency=4, defer_details=True)


async def drain(db: Db, api: Any, policy: LanePolicy | None = None) -> DrainReport:
    return await drain_once(db.pool, api, policy or LanePolicy(batch=100), today=TODAY,
                            topic=db.settings.topic(STUDENTS_EVENTS))


async def events(db: Db) -> list[tuple[str, str]]:
    """(event type, student id) of each outbox row, in order."""
    rows = await db.rows("SELECT headers, payload FROM outbox ORDER BY id")
    return [(json.loads(r["headers"])["event-type"], json.loads(r["payload"])["student_id"]) for r in rows]


async def queued(db: Db) -> dict[str, int]:
    """INE → attempts of each queued row."""
    return {r["ine"]: r["attempts"] for r in await db.rows("SELECT ine, attempts FROM sygne_detail_queue")}


async def ids(db: Db) -> dict[str, str]:
    return {r["ine"]: str(r["student_id"]) for r in await db.rows("SELECT ine, student_id FROM students")}


async def test_the_list_is_imported_at_once_and_each_detail_queued_with_it(db: Db, fake: FakeSygneServer) -> None:
    report = await deferred_import(db, fake)
    assert (report.summary["students"], report.summary["new"]) == (len(WITH_DETAIL) + 1, len(WITH_DETAIL) + 1)
    assert report.run_counts()["details_queued"] == len(WITH_DETAIL) + 1
    assert fake.state.requests["detail"] == 0  # no detail call in the import itself
    assert set(await queued(db)) == WITH_DETAIL | {GRIS}
    # the list's identity at once, without address or birthplace: the ASP file's gates hold its payments
    chloe = (await db.rows("SELECT first_names, birth_country_insee, address FROM students "
                           "WHERE ine = '000111222AA'"))[0]
    assert (chloe["first_names"], chloe["birth_country_insee"]) == (["Chloé"], None)
    assert json.loads(chloe["address"]).get("lines") in (None, [])
    kinds = Counter(kind for kind, _ in await events(db))
    assert (kinds["StudentRegistered"], kinds["StudentIneStatusChanged"]) == (len(WITH_DETAIL) + 1, 0)
    async with db.pool.acquire() as conn:
        depth = await queue_depth(conn, 10)
    assert (depth["details_queued"], depth["details_given_up"]) == (len(WITH_DETAIL) + 1, 0)


async def test_re_importing_the_same_list_queues_nothing_new(db: Db, fake: FakeSygneServer) -> None:
    await deferred_import(db, fake)
    before = await queued(db)
    again = await deferred_import(db, fake)
    assert (again.details_queued, again.summary["events"]) == (0, 0)
    assert await queued(db) == before
    async with client(fake) as api:
        await drain(db, api)
    assert (await deferred_import(db, fake)).details_queued == 0  # known, in their known class
    assert await queued(db) == {}


async def test_the_lane_applies_each_detail_once_as_the_inline_import_does(db: Db, fake: FakeSygneServer,
                                                                          database_url: str, namespace: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    await deferred_import(db, fake)
    listed = len(await events(db))
    async with client(fake) as api:
        report = await drain(db, api)
        assert (report.claimed, report.applied, report.not_found, report.retried) == (6, 5, 1, 0)
        assert await queued(db) == {}
        after = await events(db)
        assert (await drain(db, api)).claimed == 0
    assert await events(db) == after  # nothing more
    # one identity and one address change per detailed student, at most: never twice
    student_ids = await ids(db)
    changes = Counter(e for e in after[listed:] if e[0] in IDENTITY_EVENTS)
    assert max(changes.values()) == 1
    assert {sid for _, sid in changes} == {student_ids[ine] for ine in WITH_DETAIL}
    # what the asp-gateway waits for (its gates hold a payment without birthplace or address): the full identity
    rows = await db.rows("SELECT headers, payload FROM outbox ORDER BY id")
    told = [json.loads(r["payload"]) for r in rows[listed:]
            if json.loads(r["headers"])["event-type"] == "StudentAddressChanged"]
    chloe = [e["identity"] for e in told if e["student_id"] == student_ids["000111222AA"]]
    assert [(i["birth_country_insee"], i["address"]["postal_code"], i["address"]["country_insee"]) for i in chloe] == [
        ("99100", "35000", "99100")]
    # the state is the inline import's, in a schema of its own
    monkeypatch.setenv("APLYPRO_TOPIC_NAMESPACE", f"{namespace}inline.")
    inline = await open_db(database_url, StudentsSettings())
    try:
        async with client(fake) as api:
            await import_sygne(inline.pool, api, UAI, 2025, today=TODAY, concurrency=4,
                               topic=inline.settings.topic(STUDENTS_EVENTS))
        sql = ("SELECT ine, last_name, first_names, birth_date, sex, birth_city_insee, birth_country_insee, "
               "address, ine_status FROM students ORDER BY ine")
        assert await db.rows(sql) == await inline.rows(sql)
        assert await db.schoolings() == await inline.schoolings()
    finally:
        await inline.pool.close()


async def test_a_404_in_the_lane_records_ine_not_found_once(db: Db, fake: FakeSygneServer) -> None:
    await deferred_import(db, fake)
    assert await db.pool.fetchval("SELECT ine_status FROM students WHERE ine = $1", GRIS) == "ok"
    async with client(fake) as api:
        await drain(db, api)
    assert await db.pool.fetchval("SELECT ine_status FROM students WHERE ine = $1", GRIS) == "not_found"
    assert [sid for kind, sid in await events(db) if kind == "StudentIneStatusChanged"] == [(await ids(db))[GRIS]]
    assert GRIS not in await queued(db)


async def test_a_429_keeps_the_row_for_later_with_its_attempt_counted(db: Db, fake: FakeSygneServer) -> None:
    await deferred_import(db, fake)
    fake.state.inject(Fault(429, times=1000, path="eleves/", retry_after="1"))
    policy = LanePolicy(batch=100, max_attempts=2, backoff_base=3600)
    async with client(fake) as api:
        report = await drain(db, api, policy)
        assert (report.retried, report.applied, report.reasons) == (6, 0, {"detail_api_unavailable": 6})
        assert await queued(db) == dict.fromkeys(WITH_DETAIL | {GRIS}, 1)
        assert (await drain(db, api, policy)).claimed == 0  # not due for an hour
        await db.pool.execute("UPDATE sygne_detail_queue SET not_before = now()")
        await drain(db, api, policy)  # the second attempt fails too: the rows stay, given up, visible
        assert await queued(db) == dict.fromkeys(WITH_DETAIL | {GRIS}, 2)
        await db.pool.execute("UPDATE sygne_detail_queue SET not_before = now()")
        assert (await drain(db, api, policy)).claimed == 0  # past their attempts: never claimed again
        async with db.pool.acquire() as conn:
            assert (await queue_depth(conn, policy.max_attempts))["details_given_up"] == 6
        fake.state.faults.clear()
        # SYGNE is back: an operator's re-queue (attempts reset) applies them
        await db.pool.execute("UPDATE sygne_detail_queue SET attempts = 0")
        assert (await drain(db, api, policy)).applied == len(WITH_DETAIL)
    assert await queued(db) == {}


class Crash(BaseException):
    """The process dies mid-batch (not an error the lane handles)."""


class CrashingApi:
    """Answers a few details, then the process dies while the others are in flight."""

    def __init__(self, api: SygneClient, answers: int) -> None:
        self.api, self.left = api, answers

    async def student(self, ine: str) -> dict[str, Any]:
        self.left -= 1
        if self.left < 0:
            raise Crash
        return await self.api.student(ine)


async def test_a_crash_between_claim_and_apply_loses_nothing(db: Db, fake: FakeSygneServer) -> None:
    await deferred_import(db, fake)
    before, listed = await queued(db), await events(db)
    async with client(fake) as api:
        with pytest.raises(BaseExceptionGroup) as crashed:  # the concurrent calls' task group wraps it
            await drain(db, CrashingApi(api, 3))
        assert crashed.group_contains(Crash)
        assert (await queued(db), await events(db)) == (before, listed)  # every row kept, no attempt spent
        assert (await drain(db, api)).applied == len(WITH_DETAIL)
    assert await queued(db) == {}


class SlowCountingApi:
    """Counts detail calls by INE; each answer takes a while, so two lanes hold their claims together."""

    def __init__(self, api: SygneClient, calls: Counter[str]) -> None:
        self.api, self.calls = api, calls

    async def student(self, ine: str) -> dict[str, Any]:
        self.calls[ine] += 1
        await anyio.sleep(0.3)
        return await self.api.student(ine)


async def test_two_lanes_at_once_apply_each_detail_once(db: Db, fake: FakeSygneServer) -> None:
    await deferred_import(db, fake)
    listed = len(await events(db))
    calls: Counter[str] = Counter()
    reports: list[DrainReport] = []
    policy = LanePolicy(batch=3, concurrency=3)
    async with client(fake) as api:
        lane = SlowCountingApi(api, calls)

        async def one_lane() -> None:
            while (report := await drain(db, lane, policy)).claimed:
                reports.append(report)

        async with anyio.create_task_group() as group:
            group.start_soon(one_lane)
            group.start_soon(one_lane)
    assert calls == Counter(WITH_DETAIL | {GRIS})  # each detail fetched once
    assert sum(r.claimed for r in reports) == len(WITH_DETAIL) + 1
    changes = Counter(e for e in (await events(db))[listed:] if e[0] in IDENTITY_EVENTS)
    assert max(changes.values()) == 1
    assert await queued(db) == {}


async def test_a_queued_row_a_later_import_overtook_is_kept_given_up_not_applied(db: Db,
                                                                                 fake: FakeSygneServer) -> None:
    await deferred_import(db, fake)
    # Mehdi leaves before the lane reaches him: the next (full) import closes his schooling
    fake.state.lists[UAI, 2025] = [e for e in fake.state.lists[UAI, 2025] if e["ine"] != "000111223AB"]
    async with client(fake) as api:
        await import_sygne(db.pool, api, UAI, 2025, today=TODAY, topic=db.settings.topic(STUDENTS_EVENTS),
                           concurrency=4, defer_details=True, mode="full")
        closed = (await db.schoolings())["000111223AB"]
        assert closed[0][4] is not None
        report = await drain(db, api)
    assert (report.applied, report.stale) == (len(WITH_DETAIL) - 1, 1)
    assert (await db.schoolings())["000111223AB"] == closed  # the old list row did not reopen it
    assert await db.rows("SELECT ine, attempts, last_error FROM sygne_detail_queue") == [
        {"ine": "000111223AB", "attempts": 10, "last_error": "stale_list_row"}]  # visible, for refresh-student


async def test_an_inline_import_settles_the_detail_it_fetched(db: Db, fake: FakeSygneServer) -> None:
    await deferred_import(db, fake)
    mehdi = next(e for e in fake.state.lists[UAI, 2025] if e["ine"] == "000111223AB")
    mehdi.update(classe="TLE PRO MELEC", codeMef="24731211331", codeMefRatt="24731211331", dateDebSco="2025-10-06")
    async with client(fake) as api:  # import-sygne: the moved student's detail, inline
        await import_sygne(db.pool, api, UAI, 2025, today=TODAY, topic=db.settings.topic(STUDENTS_EVENTS),
                           concurrency=4)
    assert fake.state.requests["detail"] == 5  # the moved student, and the four refused rows' (unknown to us)
    assert set(await queued(db)) == (WITH_DETAIL | {GRIS}) - {"000111223AB"}


async def test_a_first_seen_ine_that_looks_like_a_placeholder_gets_its_detail_at_once_and_takes_it_over(
        db: Db, fake: FakeSygneServer) -> None:
    """§5.2 matches on the birth city, which only the detail has: deferring it would make a second student."""
    await deferred_import(db, fake)
    async with client(fake) as api:
        await drain(db, api)  # Chloé's birthplace is known now
    chloe = (await ids(db))["000111222AA"]
    await db.pool.execute("UPDATE students SET ine = '1234567A' WHERE ine = '000111222AA'")  # a temporary INE
    details_before = fake.state.requests["detail"]
    report = await deferred_import(db, fake)  # SYGNE lists her national INE
    assert fake.state.requests["detail"] == details_before + 1  # hers only, at once
    assert report.details_queued == 0
    assert (await ids(db)).get("000111222AA") == chloe  # the placeholder took the real INE: one student
    assert "1234567A" not in await ids(db)
    assert await queued(db) == {}


async def test_a_group_that_fails_for_any_reason_counts_an_attempt_and_the_lane_goes_on(
        db: Db, fake: FakeSygneServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from aplypro_students.service_layer import sygne_details

    await deferred_import(db, fake)

    async def broken(*_args: Any, **_kwargs: Any) -> int:
        raise ValueError("an odd detail payload")

    monkeypatch.setattr(sygne_details, "_apply", broken)
    async with client(fake) as api:
        report = await drain(db, api)  # never raises: the next drain takes the next rows, not these again
    assert report.retried == len(WITH_DETAIL)
    assert await queued(db) == dict.fromkeys(WITH_DETAIL, 1)  # GRIS's 404 settled its row


def _moved(fake: FakeSygneServer, ine: str, label: str) -> None:
    for entry in fake.state.lists[UAI, 2025]:
        if entry["ine"] == ine:
            entry["classe"] = label


async def test_a_moved_student_queued_again_is_due_again_from_its_first_attempt(db: Db, fake: FakeSygneServer) -> None:
    await deferred_import(db, fake)
    await db.pool.execute("UPDATE sygne_detail_queue SET attempts = 10, last_error = 'detail_unavailable' "
                          "WHERE ine = '000111223AB'")
    _moved(fake, "000111223AB", "TLE PRO MELEC B")
    await deferred_import(db, fake)
    row = (await db.rows("SELECT attempts, last_error, cells FROM sygne_detail_queue WHERE ine = '000111223AB'"))[0]
    assert (row["attempts"], row["last_error"]) == (0, None)
    assert json.loads(row["cells"])["classe"] == "TLE PRO MELEC B"


async def test_an_import_never_waits_for_a_queued_row_a_lane_holds(db: Db, fake: FakeSygneServer) -> None:
    """The lane holds its rows while it waits for the students' locks an import holds: waiting here would
    be a deadlock. The import leaves the row to the lane."""
    await deferred_import(db, fake)
    _moved(fake, "000111223AB", "TLE PRO MELEC B")
    async with db.pool.acquire() as lane, lane.transaction():
        await lane.execute("SELECT 1 FROM sygne_detail_queue WHERE ine = '000111223AB' FOR UPDATE")
        with anyio.fail_after(10):
            await deferred_import(db, fake)
    assert "000111223AB" in await queued(db)
