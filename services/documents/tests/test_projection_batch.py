"""The decisions consumer's batch handler (`projection_batch`, `state_batch`) leaves the database as the per-event
handlers applied in order would, in a bounded number of statements whatever the batch's size."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import (
    DecisionAbrogationRequested,
    DecisionIssueRequested,
    DecisionWithdrawalRequested,
    Envelope,
    Identity,
    LiquidationIssueRequested,
    PaymentRequested,
    PfmpRecorded,
    PfmpRectified,
    PfmpState,
    PfmpValidated,
    RibArchived,
    RibRecorded,
    SchoolingChanged,
    SchoolingClosed,
    SchoolingHiddenChanged,
    SchoolingOpened,
    SchoolingReopened,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentRegistered,
    StudentRegisteredV1,
)
from aplypro_contracts.examples import examples
from aplypro_documents.adapters import postgres_batch_rows, postgres_liquidation_batch, postgres_state_batch
from aplypro_documents.domain.errors import DocumentRuleError
from aplypro_documents.domain.numbering import ADMINISTRATIVE_ALPHABET
from aplypro_documents.entrypoints.service import build_spec
from aplypro_documents.service_layer import projection_batch, state_batch
from aplypro_local.testing import interleave
from aplypro_servicekit.consumer import EventHandler
from aplypro_servicekit.db import Connection, create_pool, migrate

from .conftest import MEF, SCHOOL, priced, settings_for

pytestmark = pytest.mark.integration
START = datetime(2026, 1, 5, 8, tzinfo=UTC)
UAIS = ["0999001K", "0999002L", "0999003M"]
# Columns a run dates itself (DEFAULT now()), or draws at random (a schooling's administrative number).
NOT_COMPARED = {"administrative_number"}


def handlers() -> dict[str, EventHandler]:
    """The decisions consumer's per-event handlers, as the service wires them."""
    spec = build_spec(settings_for("unused."))
    return dict(next(s for s in spec.subscriptions if s.consumer_name == "decisions").handlers)


@pytest.fixture
async def second(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """A second documents schema, migrated as the `pool` fixture's."""
    schema = settings_for(namespace[:-1] + "b.").db_schema("documents")
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_documents"])
    yield pool
    await pool.close()


class World:
    """Random but realistic: students with one to three schoolings of the year (each closed before the next one
    starts, some reopened or changed: abrogations queued and dropped), two or three PFMPs each, one to three bank
    accounts over the establishments, payment requests; times on a coarse grid (ties between unversioned bank
    accounts happen); a fifth of the streams unversioned; replays and swaps; ids nobody knows. Half the schoolings
    have a DA issued already (`issued`): the director's abrogation and retrait commands name only those."""

    def __init__(self, rng: random.Random, students: int) -> None:
        self.rng = rng
        self.students = [uuid.uuid4() for _ in range(students)]
        self.schoolings = {s: [uuid.uuid4() for _ in range(rng.choice([1, 2, 2, 3]))] for s in self.students}
        self.pfmps = {sc: [uuid.uuid4() for _ in range(rng.randint(1, 3))]
                      for scs in self.schoolings.values() for sc in scs}
        self.issued = {sc for sc in self.pfmps if rng.random() < 0.5}
        self.ribs: list[uuid.UUID] = []

    def at(self) -> datetime:
        return START + timedelta(minutes=self.rng.randint(0, 30))

    def version(self, unversioned: bool, n: int) -> int:
        return 0 if unversioned else n

    def rib_stream(self, student: uuid.UUID) -> list[Envelope]:
        rng, own = self.rng, list[Envelope]()
        uai, unversioned = rng.choice(UAIS), rng.random() < 0.2
        for n in range(1, rng.randint(2, 4)):
            rib_id = uuid.uuid4()
            self.ribs.append(rib_id)
            own.append(RibRecorded(producer="students", occurred_at=self.at(), rib_id=rib_id, student_id=student,
                                   establishment_uai=uai, owner_type=rng.choice(["personal", "other_person"]),
                                   holder_name=rng.choice(["A B", "C D"]), iban=f"FR76{rng.randint(0, 9) * 10**20}",
                                   bic="AGRIFRPP", version=self.version(unversioned, n)))
            if rng.random() < 0.5:  # replaced: the old one archived (its version, or a later one)
                own.append(RibArchived(producer="students", occurred_at=self.at(), rib_id=rib_id, student_id=student,
                                       establishment_uai=uai, version=self.version(unversioned, n + rng.randint(0, 1))))
        return self.disorder(own)

    def pfmp_stream(self, student: uuid.UUID, schooling: uuid.UUID, pfmp_id: uuid.UUID, rank: int) -> list[Envelope]:
        rng, own = self.rng, list[Envelope]()
        unversioned = rng.random() < 0.2
        start = date(2025, 10, 1) + timedelta(days=30 * rank)
        stages = [(PfmpRecorded, "completed"), (PfmpValidated, "validated"), (PfmpRectified, "rectified")]
        for n, (kind, status) in enumerate(stages[:rng.randint(1, 3)], 1):
            state = PfmpState(pfmp_id=pfmp_id, schooling_id=schooling, student_id=student, start_date=start,
                              end_date=start + timedelta(days=rng.choice([9, 13])), day_count=10,
                              status=status,
                              created_seq=rank, rank=rank, deleted=rng.random() < 0.1,
                              version=self.version(unversioned, n))
            extra = {"initiated_by": "user", "requested_by": "user-1"} if kind is PfmpRectified else {}
            own.append(kind(producer="pfmp", occurred_at=self.at() + timedelta(days=rng.choice([0, 0, 1])),
                            pfmp=state, **extra))
            if rng.random() < 0.3 and n > 1:  # requested once validated
                own.append(PaymentRequested(producer="calculator", occurred_at=self.at(), payment_request_id=uuid.uuid4(),
                                            pfmp_id=pfmp_id, schooling_id=schooling, student_id=student,
                                            amount_cents=rng.randint(0, 900) * 100, day_count=10, pfmp_rank=rank,
                                            version=1))
        return self.disorder(own)

    def disorder(self, own: list[Envelope]) -> list[Envelope]:
        for _ in range(self.rng.randint(0, 2)):  # a replayed copy, later (published again: another time)
            original = self.rng.randrange(len(own))
            own.insert(self.rng.randint(original + 1, len(own)), own[original].model_copy(
                update={"event_id": uuid.uuid4(), "occurred_at": self.at()}))
        for i in range(len(own) - 1):  # out of order
            if self.rng.random() < 0.25:
                own[i], own[i + 1] = own[i + 1], own[i]
        return own

    def student_streams(self, student: uuid.UUID) -> list[list[Envelope]]:
        """The students topic's (the student's key: one partition, its order kept but for swaps and replays), the
        calculator's barèmes and the commands of the pfmp topic (each schooling's in its own order)."""
        own = interleave(self.rng, [self.identity_stream(student)] + [
            self.schooling_stream(student, n, schooling) for n, schooling in enumerate(self.schoolings[student])])
        return [self.disorder(own)] + [self.other_stream(student, sc) for sc in self.schoolings[student]]

    def identity_stream(self, student: uuid.UUID) -> list[Envelope]:
        rng, unversioned = self.rng, self.rng.random() < 0.2
        template = _template_student()
        own: list[Envelope] = [StudentRegistered.model_validate(
            {**template, "student_id": student, "event_id": uuid.uuid4(), "version": self.version(unversioned, 1)})]
        for n in range(2, rng.randint(2, 4)):
            identity = Identity.model_validate({**template["identity"], "last_name": f"NOM{n}",
                                                "address": {"lines": [f"{n} rue du Test"]}})
            if unversioned:  # a StudentRegistered v1 re-sent with the correction: 0 after 0
                own.append(StudentRegistered(producer="students", student_id=student, identity=identity, version=0))
            elif rng.random() < 0.5:
                own.append(StudentAddressChanged(producer="students", student_id=student, identity=identity,
                                                 version=n, changed=("address",)))
            else:
                own.append(StudentIdentityChanged(producer="students", student_id=student, identity=identity,
                                                  version=n, changed=("last_name",)))
        return own

    def schooling_stream(self, student: uuid.UUID, n: int, schooling: uuid.UUID) -> list[Envelope]:
        """Opened, then maybe closed (before the next one starts), reopened, its end date changed; hidden at times."""
        rng, unversioned = self.rng, self.rng.random() < 0.2
        start = date(2025, 9, 1) + timedelta(days=70 * n)
        end = start + timedelta(days=60)
        state: dict[str, Any] = {"producer": "students", "schooling_id": schooling, "student_id": student,
                                 "establishment": SCHOOL, "class_label": "TLE PRO MODE", "school_year": 2025,
                                 "mef": MEF, "start_date": start}
        own: list[Envelope] = [SchoolingOpened(**state, end_date=rng.choice([None, None, end]),
                                               version=self.version(unversioned, 1))]
        steps = rng.choice([0, 1, 1, 2, 3])
        if steps >= 1:
            own.append(SchoolingClosed(**state, end_date=end, end_date_inferred=False,
                                       version=self.version(unversioned, 2)))
        if steps >= 2:
            own.append(SchoolingReopened(**state, end_date=None, version=self.version(unversioned, 3)))
        if steps >= 3:
            own.append(SchoolingChanged(**state, end_date=end + timedelta(days=rng.choice([-20, 20])),
                                        changed=("end_date",), version=self.version(unversioned, 4)))
        if rng.random() < 0.2:
            own.insert(rng.randint(0, len(own)), SchoolingHiddenChanged(
                producer="students", schooling_id=schooling, student_id=student, hidden=rng.random() < 0.5,
                version=rng.randint(1, 3)))
        return own

    def other_stream(self, student: uuid.UUID, schooling: uuid.UUID) -> list[Envelope]:
        """The calculator's barème (again at times), the director's commands, the ministry's requests for an état
        liquidatif (the barrier of the liquidation fold)."""
        rng, own = self.rng, list[Envelope]()
        for _ in range(rng.choice([1, 1, 2])):
            own.append(priced(student, schooling, is_priced=rng.random() < 0.9))
        ids = {"producer": "pfmp", "schooling_id": schooling, "student_id": student, "requested_by": "user-9"}
        if rng.random() < 0.15:
            own.append(DecisionIssueRequested(**ids, mode=rng.choice(["missing", "reissue"])))
        if schooling in self.issued and rng.random() < 0.15:  # a DA expected: the command breaks no rule
            own.append(DecisionAbrogationRequested(**ids))
        if schooling in self.issued and rng.random() < 0.05:
            own.append(DecisionWithdrawalRequested(**ids, reason="never_attended"))
        for _ in range(rng.randint(0, 2)):
            own.append(LiquidationIssueRequested(**ids))
        rng.shuffle(own)
        return own

    def unknown(self) -> list[Envelope]:
        """Events about rows nobody holds: an archived RIB never recorded, a payment request whose PFMP is
        unknown."""
        student, schooling = uuid.uuid4(), uuid.uuid4()
        return [RibArchived(producer="students", rib_id=uuid.uuid4(), student_id=student, establishment_uai=UAIS[0],
                            version=2),
                PaymentRequested(producer="calculator", payment_request_id=uuid.uuid4(), pfmp_id=uuid.uuid4(),
                                 schooling_id=schooling, student_id=student, amount_cents=100, day_count=1,
                                 pfmp_rank=1, version=1)]


def _template_student() -> dict[str, Any]:
    return next(e for e in examples() if e.event_type == "StudentRegistered").model_dump()


async def hold(pool: asyncpg.Pool, world: World, seed: int) -> None:
    """What earlier batches left: bank accounts, PFMPs (some validated), payment requests, an issued DA for some
    schoolings, états liquidatifs queued, stale counters."""
    rng = random.Random(seed)  # the same rows in both schemas

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    async with pool.acquire() as conn, conn.transaction():
        for student in world.students:
            if rng.random() < 0.3:
                await conn.execute("INSERT INTO ribs VALUES ($1, $2, $3, 'personal', 'OLD', 'FR76OLD', 'BIC', $4, $5, "
                                   "$6)", student, rng.choice(UAIS), rng.choice([*world.ribs, new_id()]),
                                   START + timedelta(minutes=rng.randint(0, 30)), rng.choice([0, 0, 1, 2]),
                                   rng.random() < 0.3)
            if rng.random() < 0.3:  # an identity held: older, as new, or newer than the stream's
                await conn.execute("INSERT INTO students VALUES ($1, $2::jsonb, $3)", student,
                                   json.dumps({"last_name": "OLD"}), rng.choice([0, 1, 2]))
            for n, schooling in enumerate(world.schoolings[student]):
                if rng.random() < 0.3:  # a schooling held (its administrative number stays)
                    await conn.execute(
                        "INSERT INTO schoolings (schooling_id, student_id, school_year, establishment, mef, "
                        "administrative_number, class_label, start_date, end_date, status, version) VALUES ($1, $2, "
                        "2025, $3::jsonb, $4::jsonb, $5, 'OLD', $6, NULL, 'student', $7)",
                        schooling, student, SCHOOL.model_dump_json(), MEF.model_dump_json(),
                        "".join(rng.choice(ADMINISTRATIVE_ALPHABET) for _ in range(10)),
                        date(2025, 9, 1) + timedelta(days=70 * n), rng.choice([0, 1, 2]))
                if rng.random() < 0.2:
                    await conn.execute("INSERT INTO pricing VALUES ($1, $2, 1500, 60000)", schooling,
                                       rng.random() < 0.5)
                if rng.random() < 0.1:
                    await conn.execute("INSERT INTO hidden_schoolings VALUES ($1, $2, true, $3)", schooling, student,
                                       rng.randint(1, 2))
                # Queued already: a DA (retried once), an abrogation the director asked for (its detail and attempts
                # stay while it stays queued), a retrait.
                for kind, share in (("attribution", 0.2), ("abrogation", 0.2), ("withdrawal", 0.05)):
                    if rng.random() < share:
                        await conn.execute("INSERT INTO render_queue (schooling_id, kind, attempts, detail) VALUES "
                                           "($1, $2, 2, '{\"requested_by\": \"old\"}')", schooling, kind)
        for schooling, pfmps in world.pfmps.items():
            student = next(s for s, scs in world.schoolings.items() if schooling in scs)
            if schooling in world.issued:
                await conn.execute(
                    "INSERT INTO documents (document_id, kind, schooling_id, number, version, storage_ref, sha256, "
                    "size_bytes) VALUES ($1, 'attribution', $2, $3, 1, 'ref', 'sha', 1)",
                    new_id(), schooling, f"N{schooling.hex[:12]}")
            if rng.random() < 0.2:
                await conn.execute("INSERT INTO render_queue (schooling_id, kind, detail) VALUES ($1, 'liquidation', "
                                   "'{\"requested_by\": \"old\"}')", schooling)
            for rank, pfmp_id in enumerate(pfmps, 1):
                if rng.random() < 0.3:
                    await conn.execute(
                        "INSERT INTO pfmps VALUES ($1, $2, $3, '2025-10-01', '2025-10-10', 'completed', $4, false, $5, "
                        "$6, $7)", pfmp_id, schooling, student, rank, rng.choice([None, date(2025, 10, 11)]),
                        rng.choice([None, "P-1"]), rng.choice([0, 0, 1, 2]))
                if rng.random() < 0.2:
                    await conn.execute("INSERT INTO payment_requests VALUES ($1, $2, $3, 100, 1, $4, $5)",
                                       new_id(), pfmp_id, schooling, rank, START)
        await conn.execute("INSERT INTO stale_events VALUES ('RibRecorded', 3), ('PfmpValidated', 1), "
                           "('SchoolingOpened', 2)")


async def everything(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Every table of the schema, rows as sorted text (order of insertion aside), but the columns a run dates
    itself (`DEFAULT now()`: when each run wrote the row) or draws at random."""
    columns: dict[str, list[str]] = {}
    for r in await pool.fetch(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
            "USING (table_schema, table_name) WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "AND coalesce(c.column_default, '') NOT LIKE '%now()%' ORDER BY c.ordinal_position"):
        if r["column_name"] not in NOT_COMPARED:
            columns.setdefault(r["table_name"], []).append(r["column_name"])
    return {t: sorted(str(tuple(r.values())) for r in await pool.fetch(f"SELECT {', '.join(cs)} FROM {t}"))
            for t, cs in columns.items() if "migration" not in t}


def stream(seed: int) -> tuple[World, list[Envelope]]:
    rng = random.Random(seed)
    world = World(rng, 40)
    streams = [world.rib_stream(s) for s in world.students]
    streams += [world.pfmp_stream(s, sc, p, rank) for s, scs in world.schoolings.items() for sc in scs
                for rank, p in enumerate(world.pfmps[sc], 1)]
    streams += [stream for s in world.students for stream in world.student_streams(s)]
    streams += [world.unknown() for _ in range(3)]
    events = interleave(rng, streams)
    # A barème change the calculator publishes in one go: a run of SchoolingPriced, a schooling twice at times.
    run = [priced(s, sc, is_priced=rng.random() < 0.7) for s, scs in world.schoolings.items() for sc in scs
           if rng.random() < 0.6] + [priced(uuid.uuid4(), uuid.uuid4(), is_priced=n % 2 > 0) for n in range(4)]
    run += [rng.choice(run).model_copy(update={"event_id": uuid.uuid4(), "priced": False, "daily_rate_cents": None,
                                               "yearly_cap_cents": None}) for _ in range(5)]
    at = rng.randrange(len(events))
    return world, events[:at] + run + events[at:]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
async def test_the_batch_handler_leaves_the_state_the_per_event_handlers_leave(
        pool: asyncpg.Pool, second: asyncpg.Pool, seed: int) -> None:
    world, events = stream(seed)
    per_event = handlers()
    for p in (pool, second):
        await hold(p, world, seed)
    held = await administrative_numbers(second)
    assert held == await administrative_numbers(pool)

    async with pool.acquire() as conn:
        dead = await one_by_one(conn, per_event, events)
    apply = projection_batch.batch_handler(per_event)
    rng = random.Random(seed)
    replayed = 0
    async with second.acquire() as conn:
        at = 0
        while at < len(events):
            cut = rng.choice([1, 3, 20, 100, 500])
            try:  # as the consumer applies a batch: whole, or (a command breaks a rule) one by one
                async with conn.transaction():
                    await apply(conn, events[at:at + cut])
            except DocumentRuleError:
                replayed += 1
                dead -= await one_by_one(conn, per_event, events[at:at + cut])
            at += cut
    assert dead == 0  # the same commands dead-lettered
    assert replayed < len(events) / 100  # most batches folded (a command about a schooling not known yet is rare)

    expected, found = await everything(pool), await everything(second)
    assert sum(len(rows) for t, rows in expected.items() if t in ("ribs", "pfmps", "payment_requests")) > 100
    assert len(expected["students"]) >= 40
    assert len(expected["schoolings"]) > 60
    assert sum("'abrogation'" in row for row in expected["render_queue"]) > 5  # reviews queued some
    for table in expected:
        assert found[table] == expected[table], table
    after = await administrative_numbers(second)
    assert {s: after[s] for s in held} == held  # a schooling held keeps its number; a new one got one drawn
    assert after.keys() == (await administrative_numbers(pool)).keys()


async def one_by_one(conn: Connection, per_event: dict[str, EventHandler], events: list[Envelope]) -> int:
    """The per-event handlers, each event in its own savepoint (as the consumer replays a batch): one that breaks a
    rule (a director's command about a schooling without a DA) is dead-lettered. Returns how many were."""
    dead = 0
    for event in events:
        try:
            async with conn.transaction():
                await per_event[event.event_type](conn, event)
        except DocumentRuleError:
            dead += 1
    return dead


async def administrative_numbers(pool: asyncpg.Pool) -> dict[uuid.UUID, str]:
    """Each schooling's administrative number (a DA number's random part): of the right shape, every one distinct."""
    numbers = {r[0]: r[1] for r in await pool.fetch("SELECT schooling_id, administrative_number FROM schoolings")}
    assert len(set(numbers.values())) == len(numbers)
    assert all(len(n) == 10 and set(n) <= set(ADMINISTRATIVE_ALPHABET) for n in numbers.values())
    return numbers


async def test_a_batch_of_folded_events_takes_a_bounded_number_of_statements(pool: asyncpg.Pool) -> None:
    """Liquidation inputs, students, schoolings and barèmes: a few statements a batch, rows new or held."""
    _, events = stream(7)
    folded = [e for e in events if e.event_type in projection_batch.FOLDED | state_batch.FOLDED]
    assert len(folded) > 1000
    assert sum(e.event_type in state_batch.STATES for e in folded[500:]) > 200
    apply = projection_batch.batch_handler(handlers())
    statements: list[str] = []

    async def counted(batch: list[Envelope]) -> list[str]:
        statements.clear()
        async with conn.transaction():
            await apply(conn, batch)
        return [s for s in statements if s.strip(" ;").upper() not in ("BEGIN", "COMMIT")]

    async with pool.acquire() as conn:
        conn.add_query_logger(lambda record: statements.append(record.query))
        await counted(folded[:500])
        work = await counted(folded[500:])  # rows held now: updates and stale events too
        pricing = await counted([priced(uuid.uuid4(), uuid.uuid4(), is_priced=n % 3 > 0) for n in range(500)])
    # Liquidation inputs: read and write the accounts and the PFMPs (rows held updated, new ones inserted: a statement
    # each), insert the requests, queue, count the stale ones (9). States: read the students, the schoolings and
    # their decision state, write the students and the schoolings (updated, inserted), the barèmes, the DAs queued,
    # the abrogations dropped and queued, count the stale ones (12).
    assert len(work) <= 9 + 12, work
    assert len(pricing) == 2, pricing  # the barèmes written, the DAs queued


async def test_a_schooling_another_transaction_inserts_between_the_read_and_the_write_is_never_overwritten(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two lanes fold the same new schooling at once (a merged student's schooling events come under two keys):
    the batch that read it as absent fails transiently rather than put its older state over the newer one."""
    student, schooling = uuid.uuid4(), uuid.uuid4()

    def opened(version: int, end: date | None) -> Envelope:
        return SchoolingOpened(producer="students", schooling_id=schooling, student_id=student, establishment=SCHOOL,
                               class_label="TLE PRO MODE", school_year=2025, mef=MEF, start_date=date(2025, 9, 1),
                               end_date=end, version=version)

    apply = projection_batch.batch_handler(handlers())
    real_read = postgres_state_batch.schoolings_for_update

    async def read_then_other_lane_commits(conn: Any, students: list[uuid.UUID], ids: list[uuid.UUID]
                                           ) -> list[postgres_batch_rows.Row]:
        rows = await real_read(conn, students, ids)  # absent when read...
        monkeypatch.setattr(postgres_state_batch, "schoolings_for_update", real_read)
        async with pool.acquire() as other, other.transaction():  # ...then a newer state committed by the other lane
            await apply(other, [opened(2, date(2026, 1, 31))])
        return rows

    monkeypatch.setattr(postgres_state_batch, "schoolings_for_update", read_then_other_lane_commits)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.SerializationError):  # transient: the consumer tries the batch again
            async with conn.transaction():
                await apply(conn, [opened(1, None)])
        async with conn.transaction():  # the retry: the row read locked, the older event stale
            await apply(conn, [opened(1, None)])
        row = await conn.fetchrow("SELECT version, end_date FROM schoolings WHERE schooling_id = $1", schooling)
        stale = await conn.fetchval("SELECT dropped FROM stale_events WHERE event_type = 'SchoolingOpened'")
    assert row is not None
    assert (row["version"], row["end_date"], stale) == (2, date(2026, 1, 31), 1)


async def test_a_pfmp_another_transaction_inserts_between_the_read_and_the_write_is_never_overwritten(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two lanes (or instances) fold the same new PFMP at once: a merged student's PFMP events come under two keys.
    The batch that read it as absent must not put its older state over the newer one committed meanwhile: it fails
    transiently (tried again, it then reads the row locked and finds its event stale)."""
    student, schooling, pfmp_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def recorded(kind: type[PfmpRecorded] | type[PfmpValidated], version: int, status: str) -> Envelope:
        return kind(producer="pfmp", occurred_at=START + timedelta(days=version), pfmp=PfmpState(
            pfmp_id=pfmp_id, schooling_id=schooling, student_id=student, start_date=date(2025, 10, 1),
            end_date=date(2025, 10, 10), day_count=8, status=status, created_seq=1, rank=1, deleted=False,
            version=version))

    apply = projection_batch.batch_handler(handlers())
    real_read = postgres_liquidation_batch.pfmps_for_update

    async def read_then_other_lane_commits(conn: Any, ids: list[uuid.UUID]) -> list[postgres_batch_rows.Row]:
        rows = await real_read(conn, ids)  # absent when read...
        monkeypatch.setattr(postgres_liquidation_batch, "pfmps_for_update", real_read)  # (the other lane reads for real)
        async with pool.acquire() as other, other.transaction():  # ...then validated by the other lane
            await apply(other, [recorded(PfmpValidated, 2, "validated")])
        return rows

    monkeypatch.setattr(postgres_liquidation_batch, "pfmps_for_update", read_then_other_lane_commits)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.SerializationError):  # transient: the consumer tries the batch again
            async with conn.transaction():
                await apply(conn, [recorded(PfmpRecorded, 1, "completed")])
        async with conn.transaction():  # the retry: the row read locked, the older event stale
            await apply(conn, [recorded(PfmpRecorded, 1, "completed")])
        row = await conn.fetchrow("SELECT version, status, validated_on FROM pfmps WHERE pfmp_id = $1", pfmp_id)
    assert row is not None
    assert (row["version"], row["status"]) == (2, "validated")
    assert row["validated_on"] is not None


async def test_a_state_event_in_a_model_the_fold_does_not_know_fails_the_batch(pool: asyncpg.Pool) -> None:
    """Never misread nor dropped: the batch fails, and the consumer replays it event by event (the per-event
    handler reads what it can, or dead-letters it)."""
    template = _template_student()
    old = StudentRegisteredV1(producer="students", student_id=uuid.uuid4(), identity=template["identity"])
    apply = projection_batch.batch_handler(handlers())
    async with pool.acquire() as conn:
        with pytest.raises(TypeError):
            async with conn.transaction():
                await apply(conn, [old])
        assert await conn.fetchval("SELECT count(*) FROM students") == 0
