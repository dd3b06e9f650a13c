"""The projection consumers' batch handler (`projection_batch`) leaves the database, the stale counters and the log
lines as the per-event handlers applied in order would, in a bounded number of statements whatever the batch's
size; a row inserted by another transaction between its read and the batch's write is never overwritten."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from aplypro_asp_gateway.adapters import projection_batch_sql
from aplypro_asp_gateway.entrypoints.service import SCHEMA
from aplypro_asp_gateway.service_layer import projection, projection_batch
from aplypro_contracts import Envelope, PfmpNumber, default_registry
from aplypro_contracts.examples import examples
from aplypro_contracts.registry import to_wire
from aplypro_local.testing import interleave
from aplypro_servicekit.consumer import EventConsumer, EventHandler
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.deadletter import is_transient
from structlog.testing import capture_logs

from .conftest import settings_for

pytestmark = pytest.mark.integration
START = datetime(2026, 1, 5, 8, tzinfo=UTC)
UAIS = ["0999001K", "0999002L"]
TEMPLATES = {e.event_type: e for e in examples()}
# Every handler of the five consumers, by event type (no type is read by two of them).
HANDLERS: dict[str, EventHandler] = {t: h for hs in projection.HANDLERS_BY_TOPIC.values() for t, h in hs.items()}
# Log lines of the projection (the merges' included), compared between the two paths.
LOGGED = {"stale_event_dropped", "pfmp_number_differs", "decision_withdrawn_after_sent", "schooling_hidden_after_sent",
          "payment_recheck_asked", "payment_recheck_ignored", "students_merged", "student_merge_ignored",
          "asp_individual_conflict"}


@pytest.fixture
async def second(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """A second gateway schema, migrated as the `pool` fixture's."""
    schema = settings_for(namespace[:-1] + "b.").db_schema(SCHEMA)
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_asp_gateway"])
    yield pool
    await pool.close()


class World:
    """Random but realistic: students with one or two schoolings, each with PFMPs; identities, schoolings and RIBs
    versioned or not (a fifth of the streams at version 0, times on a coarse grid: ties happen); barèmes; DAs
    issued then ready, reissued; états liquidatifs with their PFMP numbers (a replay printing another number);
    payment requests; the rarer events (archived RIBs, retraits, hidden schoolings, INE statuses, retries) and a
    few merges; replays and swaps."""

    def __init__(self, rng: random.Random, students: int) -> None:
        self.rng = rng
        self.students = [uuid.uuid4() for _ in range(students)]
        self.schoolings = {s: [uuid.uuid4() for _ in range(rng.choice([1, 1, 2]))] for s in self.students}
        self.pfmps = {sc: [uuid.uuid4() for _ in range(rng.randint(1, 3))]
                      for scs in self.schoolings.values() for sc in scs}
        self.requests: dict[uuid.UUID, uuid.UUID] = {}  # pfmp → its request

    def at(self) -> datetime:
        return START + timedelta(minutes=self.rng.randint(0, 20))

    def event(self, event_type: str, **update: Any) -> Envelope:
        return TEMPLATES[event_type].model_copy(update={"event_id": uuid.uuid4(), "occurred_at": self.at(), **update})

    def versions(self, n: int) -> list[int]:
        return [0] * n if self.rng.random() < 0.2 else list(range(1, n + 1))

    def student_stream(self, student: uuid.UUID) -> list[Envelope]:
        rng, own = self.rng, list[Envelope]()
        identity = TEMPLATES["StudentRegistered"].identity  # type: ignore[attr-defined]
        for n, version in enumerate(self.versions(rng.randint(1, 3))):
            kind = "StudentRegistered" if n == 0 else rng.choice(["StudentIdentityChanged", "StudentAddressChanged"])
            address = identity.address.model_copy(update={"postal_code": f"3500{n}", "lines": (f"{n} rue",) * n})
            own.append(self.event(kind, student_id=student, version=version, identity=identity.model_copy(
                update={"last_name": f"NOM{n}", "first_names": ("Léa", "Anne")[:n % 2 + 1], "address": address})))
        if rng.random() < 0.2:
            own.append(self.event("StudentIneStatusChanged", student_id=student, version=rng.randint(1, 2),
                                  ine_status=rng.choice(["found", "not_found"])))
        for uai in rng.sample(UAIS, rng.randint(0, 2)):
            for version in self.versions(rng.randint(1, 3)):
                rib_id = uuid.uuid4()
                own.append(self.event("RibRecorded", rib_id=rib_id, student_id=student, establishment_uai=uai,
                                      holder_name=rng.choice(["A B", "C D"]), version=version))
                if rng.random() < 0.2:
                    own.append(self.event("RibArchived", rib_id=rib_id, student_id=student, establishment_uai=uai,
                                          version=version))
        return self.disorder(own)

    def schooling_stream(self, student: uuid.UUID, schooling: uuid.UUID) -> list[Envelope]:
        rng, own = self.rng, list[Envelope]()
        kinds = ["SchoolingOpened", "SchoolingChanged", "SchoolingClosed", "SchoolingReopened"]
        for n, version in enumerate(self.versions(rng.randint(1, 4))):
            own.append(self.event(kinds[n], schooling_id=schooling, student_id=student, version=version,
                                  status=rng.choice(["student", "apprentice"]),
                                  end_date=date(2026, 6, 30) if kinds[n] == "SchoolingClosed" else None))
        for _ in range(rng.randint(1, 2)):
            priced = rng.random() < 0.8
            own.append(self.event("SchoolingPriced", schooling_id=schooling, student_id=student, priced=priced,
                                  yearly_cap_cents=rng.choice([60000, 120000]) if priced else None))
        if rng.random() < 0.15:
            own.append(self.event("SchoolingHiddenChanged", schooling_id=schooling, student_id=student,
                                  hidden=rng.random() < 0.7, version=rng.randint(1, 2)))
        for version in range(1, rng.randint(1, 3)):
            for kind in ("DocumentIssued", "DocumentReady"):
                own.append(self.document(kind, "attribution", student, schooling, version))
        if rng.random() < 0.1:
            own.append(self.document("DocumentIssued", rng.choice(["retrait", "abrogation"]), student, schooling, 3))
        pfmps = self.pfmps[schooling]
        for rank, pfmp in enumerate(pfmps, 1):
            if rng.random() < 0.7:
                request = self.event("PaymentRequested", payment_request_id=self.requests.setdefault(pfmp, uuid.uuid4()),
                                     pfmp_id=pfmp, schooling_id=schooling, student_id=student, pfmp_rank=rank,
                                     amount_cents=rng.randint(1, 9) * 1000, version=1)
                own.append(request)
                if rng.random() < 0.2:
                    own.append(self.event("PaymentRetryRequested", pfmp_id=pfmp, student_id=student,
                                          payment_request_id=request.payment_request_id))  # type: ignore[attr-defined]
        numbers = tuple(PfmpNumber(pfmp_id=p, number=f"P{p.hex[:6]}{rng.choice('AB')}") for p in pfmps)
        for kind in rng.sample(["DocumentIssued", "DocumentReady"], rng.randint(0, 2)):
            own.append(self.document(kind, "liquidation", student, schooling, 1, rng.sample(numbers, len(numbers))))
        return self.disorder(own)

    def document(self, event_type: str, kind: str, student: uuid.UUID, schooling: uuid.UUID, version: int,
                 numbers: Any = ()) -> Envelope:
        return self.event(event_type, document_id=uuid.uuid4(), kind=kind, schooling_id=schooling,
                          student_id=student, number=f"N{schooling.hex[:8]}{version}", version=version,
                          pfmp_numbers=tuple(numbers))

    def disorder(self, own: list[Envelope]) -> list[Envelope]:
        for _ in range(self.rng.randint(0, 3)):  # a replayed copy, later (published again: another time at times)
            original = self.rng.randrange(len(own))
            update: dict[str, Any] = {"event_id": uuid.uuid4()}
            if self.rng.random() < 0.5:
                update["occurred_at"] = self.at()
            own.insert(self.rng.randint(original + 1, len(own)), own[original].model_copy(update=update))
        for i in range(len(own) - 1):  # out of order
            if self.rng.random() < 0.25:
                own[i], own[i + 1] = own[i + 1], own[i]
        return own

    def merges(self) -> list[Envelope]:
        pairs = [self.rng.sample(self.students, 2) for _ in range(3)]
        return [self.event("StudentsMerged", survivor_id=s, merged_id=m, version=1) for s, m in pairs]


def stream(seed: int, students: int = 40) -> tuple[World, list[Envelope]]:
    rng = random.Random(seed)
    world = World(rng, students)
    streams = [world.student_stream(s) for s in world.students]
    streams += [world.schooling_stream(s, sc) for s, scs in world.schoolings.items() for sc in scs]
    streams += [[m] for m in world.merges()]
    return world, interleave(rng, streams)


async def hold(pool: asyncpg.Pool, world: World, seed: int) -> None:
    """What earlier batches left: identities, schoolings, caps, RIBs, DAs and printed numbers at versions 0 to 2;
    pending requests already checked (their flag down); a sent request whose file carried a PFMP number."""
    rng = random.Random(seed)  # the same rows in both schemas
    at = START + timedelta(minutes=10)

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO asp_files (file_name, name_stamp, record_count, sha256, content) "
                           "VALUES ('F1', $1, 1, 'sha', 'x')", START)
        for student in world.students:
            if rng.random() < 0.3:
                await conn.execute(
                    "INSERT INTO students (student_id, last_name, first_names, birth_date, sex, as_of, "
                    "identity_version) VALUES ($1, 'OLD', '{Old}', '2008-01-01', 'female', $2, $3)",
                    student, at, rng.choice([0, 0, 1, 2]))
            if rng.random() < 0.3:
                await conn.execute("INSERT INTO ribs VALUES ($1, $2, $3, 'personal', 'OLD', 'FR76OLD', 'BIC', $4, $5, "
                                   "$6)", student, rng.choice(UAIS), new_id(), at, rng.choice([0, 0, 1, 2]),
                                   rng.random() < 0.3)
        for schooling, pfmps in world.pfmps.items():
            student = next(s for s, scs in world.schoolings.items() if schooling in scs)
            if rng.random() < 0.3:
                await conn.execute(
                    "INSERT INTO schoolings (schooling_id, student_id, uai, contract_type_code, mef_code, "
                    "mef_ministry, school_year, status, start_date, as_of, version) "
                    "VALUES ($1, $2, 'OLD', '99', 'M', 'MENJ', 2025, 'student', '2025-09-01', $3, $4)",
                    schooling, student, at, rng.choice([0, 0, 1, 2]))
            if rng.random() < 0.3:
                await conn.execute("INSERT INTO schooling_caps VALUES ($1, 1, $2)", schooling, at)
            if rng.random() < 0.3:
                await conn.execute("INSERT INTO attributive_decisions VALUES ($1, $2, 'OLD', $3, $4)",
                                   schooling, student, rng.choice([1, 2]), at)
            for pfmp in pfmps:
                if rng.random() < 0.2:
                    await conn.execute("INSERT INTO printed_pfmp_numbers VALUES ($1, $2, $3, 1, $4)",
                                       pfmp, schooling, f"P{pfmp.hex[:6]}A", at)
                if pfmp not in world.requests and rng.random() < 0.5:
                    await conn.execute(
                        "INSERT INTO payment_requests (payment_request_id, pfmp_id, schooling_id, student_id, "
                        "amount_cents, day_count, pfmp_rank, requested_event_id, correlation_id, requested_at, "
                        "recheck) VALUES ($1, $2, $3, $4, 100, 1, 1, $1, $1, $5, false)",
                        new_id(), pfmp, schooling, student, START)
                if rng.random() < 0.1:  # sent already, its file carrying a PFMP number
                    sent = new_id()
                    await conn.execute(
                        "INSERT INTO payment_requests (payment_request_id, pfmp_id, schooling_id, student_id, "
                        "amount_cents, day_count, pfmp_rank, requested_event_id, correlation_id, requested_at, "
                        "state, file_name) VALUES ($1, $2, $3, $4, 100, 1, 1, $1, $1, $5, 'sent', 'F1')",
                        sent, pfmp, schooling, student, START)
                    await conn.execute("INSERT INTO file_records (payment_request_id, file_name, record_id, pfmp_id, "
                                       "pfmp_number, first_payment, variant) VALUES ($1, 'F1', $2, $3, $4, true, "
                                       "'first_payment')", sent, rng.getrandbits(40), pfmp, f"P{pfmp.hex[:6]}B")
        await conn.execute("INSERT INTO stale_events VALUES ('RibRecorded', 3), ('SchoolingOpened', 1)")


async def everything(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Every table of the schema, rows as sorted text, but the columns a run dates itself (`DEFAULT now()`) and the
    clocks' tick counts (a clock is taken once a batch, several times an event: only which students have one)."""
    columns: dict[str, list[str]] = {}
    for r in await pool.fetch(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
            "USING (table_schema, table_name) WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "AND coalesce(c.column_default, '') NOT LIKE '%now()%' ORDER BY c.ordinal_position"):
        if (r["table_name"], r["column_name"]) != ("student_clocks", "ticks"):
            columns.setdefault(r["table_name"], []).append(r["column_name"])
    return {t: sorted(str(tuple(r.values())) for r in await pool.fetch(f"SELECT {', '.join(cs)} FROM {t}"))
            for t, cs in columns.items() if "migration" not in t and "inbox" not in t}


def logged(logs: list[MutableMapping[str, Any]]) -> Counter[str]:
    return Counter(str(sorted(line.items())) for line in logs if line["event"] in LOGGED)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
async def test_the_batch_handler_leaves_the_state_and_logs_the_per_event_handlers_leave(
        pool: asyncpg.Pool, second: asyncpg.Pool, seed: int) -> None:
    world, events = stream(seed)
    for p in (pool, second):
        await hold(p, world, seed)

    with capture_logs() as expected_logs:
        async with pool.acquire() as conn:
            for event in events:  # the consumer's fallback path: each event alone, re-pointed alone
                async with conn.transaction():
                    await HANDLERS[event.event_type](conn, event)
    apply = projection_batch.batch_handler(HANDLERS)
    rng = random.Random(seed)
    with capture_logs() as found_logs:
        async with second.acquire() as conn:
            at = 0
            while at < len(events):
                cut = rng.choice([1, 3, 20, 100, 500])
                async with conn.transaction():
                    await apply(conn, events[at:at + cut])
                at += cut

    expected, found = await everything(pool), await everything(second)
    assert sum(len(expected[t]) for t in ("students", "schoolings", "ribs", "payment_requests")) > 150
    assert expected["stale_events"] != ["('RibRecorded', 3)", "('SchoolingOpened', 1)"]  # some dropped
    assert expected["merged_students"]
    for table in expected:
        assert found[table] == expected[table], table
    assert logged(found_logs) == logged(expected_logs)
    assert any(line["event"] == "pfmp_number_differs" for line in expected_logs)


async def test_a_batch_takes_a_bounded_number_of_statements_whatever_its_size(pool: asyncpg.Pool) -> None:
    _, events = stream(7, students=150)
    folded = [e for e in events if projection_batch._folded(e)]
    assert len(folded) > 1000
    apply = projection_batch.batch_handler(HANDLERS)
    statements: list[str] = []
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda record: statements.append(record.query))
        async with conn.transaction():
            await apply(conn, folded[:500])
        statements.clear()
        async with conn.transaction():
            await apply(conn, folded[500:])  # rows held now: updates, stale events and rechecks too
        work = [s for s in statements if s.strip(" ;").upper() not in ("BEGIN", "COMMIT")]
    # The survivors looked up, the clocks taken, the events re-pointed; each table read and written (held rows
    # updated, new ones inserted); the sent numbers read; the requests inserted, flagged, the stale ones counted.
    assert len(work) <= 3 + 5 * 3 + 2 + 1 + 1 + 1 + 1, work


async def test_a_schooling_another_transaction_inserts_between_the_read_and_the_write_is_never_overwritten(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two consumers fold the same new schooling at once (under two students' clocks: a merged student's schooling
    reported under both ids). The batch that read it as absent must not put its older state over the newer one
    committed meanwhile: it fails transiently (tried again, it reads the row locked and finds its event stale)."""
    world = World(random.Random(0), 1)
    schooling = uuid.uuid4()

    def opened(student: uuid.UUID, version: int) -> Envelope:
        return world.event("SchoolingOpened", schooling_id=schooling, student_id=student, version=version,
                           status="apprentice" if version > 1 else "student")

    apply = projection_batch.batch_handler(HANDLERS)
    real_read = projection_batch_sql.held

    async def read_then_other_commits(conn: Any, table: Any, read: Any, keys: Any) -> list[dict[str, Any]]:
        rows = await real_read(conn, table, read, keys)  # absent when read...
        monkeypatch.setattr(projection_batch_sql, "held", real_read)  # (the other transaction reads for real)
        async with pool.acquire() as other, other.transaction():  # ...then a newer state committed by another
            await apply(other, [opened(uuid.uuid4(), 2)])
        return rows

    monkeypatch.setattr(projection_batch_sql, "held", read_then_other_commits)
    older = opened(uuid.uuid4(), 1)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.SerializationError) as raised:  # transient: the consumer tries the batch again
            async with conn.transaction():
                await apply(conn, [older])
        assert is_transient(raised.value)
        async with conn.transaction():  # the retry: the row read locked, the older event stale
            await apply(conn, [older])
        row = await conn.fetchrow("SELECT version, status FROM schoolings WHERE schooling_id = $1", schooling)
    assert row is not None
    assert (row["version"], row["status"]) == (2, "apprentice")
    assert await pool.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'SchoolingOpened'") == 1


async def test_a_second_pending_request_of_a_pfmp_is_dead_lettered_alone_and_the_rest_of_its_batch_applied(
    pool: asyncpg.Pool,
) -> None:
    """PfmpAlreadyPending fails the folded insertion as it fails its handler: the consumer replays the batch event
    by event, so that request alone is dead-lettered and the others (and the facts beside them) are applied."""
    world, events = stream(8, students=5)
    requests = [e for e in events if e.event_type == "PaymentRequested"]
    pfmp, student = requests[0].pfmp_id, requests[0].student_id  # type: ignore[attr-defined]
    twin = world.event("PaymentRequested", payment_request_id=uuid.uuid4(), pfmp_id=pfmp, student_id=student,
                       schooling_id=requests[0].schooling_id, version=1)  # type: ignore[attr-defined]
    batch = [e for e in events if e.event_type in projection.HANDLERS_BY_TOPIC["calculator"]]
    batch.insert(batch.index(requests[0]) + 2, twin)  # after the first, another event between
    records = []
    for offset, event in enumerate(batch):
        body, headers = to_wire(event)
        records.append(SimpleNamespace(topic="calculator.events", partition=0, offset=offset,
                                       key=str(getattr(event, "student_id", "")).encode(), value=body,
                                       headers=list(headers.items())))
    consumer = EventConsumer(name="calculator", service="asp-gateway", pool=pool, registry=default_registry(),
                             handlers=projection.HANDLERS_BY_TOPIC["calculator"],
                             batch_handler=projection_batch.batch_handler(projection.HANDLERS_BY_TOPIC["calculator"]))
    await consumer.process_batch(records)
    assert (consumer.processed, consumer.dead_lettered) == (len(batch) - 1, 1)
    held = {r["payment_request_id"] for r in await pool.fetch("SELECT payment_request_id FROM payment_requests")}
    assert held == {e.payment_request_id for e in requests}  # type: ignore[attr-defined]
    assert await pool.fetchval("SELECT count(*) FROM schooling_caps") == len(
        {e.schooling_id for e in batch if e.event_type == "SchoolingPriced"})  # type: ignore[attr-defined]
