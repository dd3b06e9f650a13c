"""The students projection's batch handler (`projection_batch`) leaves the database as projection.py's per-event
handlers applied in order would, in a bounded number of statements whatever the batch's size."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import Envelope
from aplypro_contracts.examples import examples
from aplypro_local.testing import interleave
from aplypro_pfmp.adapters import projection_sql
from aplypro_pfmp.adapters.establishments_sql import EstablishmentFacts
from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.entrypoints.service import build_spec
from aplypro_pfmp.service_layer import projection_batch
from aplypro_servicekit.consumer import EventHandler
from aplypro_servicekit.db import create_pool, migrate

pytestmark = pytest.mark.integration
START = datetime(2025, 9, 1, 8, tzinfo=UTC)
UAIS = ["0999001K", "0999002L", "0999003M", "0999004N"]
NOT_COMPARED = {"schema_migrations", "migrations", "applied_migrations"}


def handlers() -> dict[str, EventHandler]:
    """The students-projection consumer's per-event handlers, as the service wires them."""
    spec = build_spec(PfmpSettings(APLYPRO_TOPIC_NAMESPACE="unused."))
    return dict(next(s for s in spec.subscriptions if s.consumer_name == "students-projection").handlers)


@pytest.fixture
async def second(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    """A second pfmp schema, migrated as the `pool` fixture's."""
    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace[:-1] + "b.").db_schema("pfmp")
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
    yield pool
    await pool.close()


class World:
    """Random but realistic: students with one or two schoolings in a few establishments; event times on a
    coarse grid (ties between establishment facts happen); a fifth of the students and schoolings unversioned."""

    def __init__(self, rng: random.Random, students: int) -> None:
        self.rng = rng
        self.templates = {e.event_type: e for e in examples()}
        self.students = [uuid.uuid4() for _ in range(students)]
        self.schoolings = {s: [uuid.uuid4() for _ in range(rng.choice([1, 1, 2]))] for s in self.students}

    def at(self) -> datetime:
        return START + timedelta(minutes=self.rng.randint(0, 40))

    def copy(self, event_type: str, **update: Any) -> Envelope:
        return self.templates[event_type].model_copy(update={"event_id": uuid.uuid4(), "occurred_at": self.at(),
                                                             **update})

    def identity(self) -> Any:
        base = self.templates["StudentRegistered"].identity  # type: ignore[attr-defined]
        return base.model_copy(update={"last_name": self.rng.choice(["HADDAD", "LEROY", "MARTIN"]),
                                       "first_names": tuple(self.rng.sample(["Mehdi", "Ali", "Jean"], 2))})

    def establishment(self) -> Any:
        base = self.templates["SchoolingOpened"].establishment  # type: ignore[attr-defined]
        return base.model_copy(update={"uai": self.rng.choice(UAIS), "name": self.rng.choice(["LP A", "LP B"]),
                                       "academy_code": self.rng.choice([None, "14"])})

    def student_stream(self, student: uuid.UUID) -> list[Envelope]:
        unversioned = self.rng.random() < 0.2
        kinds = ["StudentRegistered", "StudentIdentityChanged", "StudentAddressChanged"]
        own = [self.copy(self.rng.choice(kinds) if n else "StudentRegistered", student_id=student,
                         identity=self.identity() if n == 0 or self.rng.random() < 0.6 else None,
                         version=0 if unversioned else n + 1) for n in range(self.rng.randint(1, 4))]
        for i, e in enumerate(own):  # an unchanged identity keeps its fingerprint's time
            if e.identity is None:  # type: ignore[attr-defined]
                own[i] = e.model_copy(update={"identity": own[i - 1].identity})  # type: ignore[attr-defined]
        return self.disorder(own)

    def schooling_stream(self, student: uuid.UUID, schooling: uuid.UUID, held: int | None) -> list[Envelope]:
        unversioned = self.rng.random() < 0.2
        kinds = ["SchoolingOpened", "SchoolingChanged", "SchoolingClosed", "SchoolingReopened"]
        establishment = self.establishment()
        own = []
        for n in range(self.rng.randint(1, 4)):
            if self.rng.random() < 0.3:
                establishment = establishment.model_copy(update={"name": self.rng.choice(["LP A", "LP B", "LP C"])})
            mef = self.templates["SchoolingOpened"].mef  # type: ignore[attr-defined]
            own.append(self.copy(
                kinds[n] if self.rng.random() < 0.7 else self.rng.choice(kinds), student_id=student,
                schooling_id=schooling, establishment=establishment, version=0 if unversioned else n + 1,
                class_label=self.rng.choice(["TLE PRO", "1RE PRO", None]), status="student",
                mef=mef.model_copy(update={"label": self.rng.choice(["BAC PRO A", "BAC PRO B"])}),
                start_date=date(2025, 9, 1), end_date=self.rng.choice([None, date(2026, 2, 13)])))
        if held is not None:  # a replay of the version held by a projection from before 0017/0018
            own.append(own[-1].model_copy(update={"event_id": uuid.uuid4(), "version": held}))
        return self.disorder(own)

    def disorder(self, own: list[Envelope]) -> list[Envelope]:
        for _ in range(self.rng.randint(0, 2)):  # a replayed copy, later
            original = self.rng.randrange(len(own))
            own.insert(self.rng.randint(original + 1, len(own)), own[original].model_copy(
                update={"event_id": uuid.uuid4()}))
        for i in range(len(own) - 1):  # out of order
            if self.rng.random() < 0.25:
                own[i], own[i + 1] = own[i + 1], own[i]
        return own

    def others(self) -> list[Envelope]:
        """The consumer's other events: RIB status, hidden, INE status, the directory, a few merges."""
        rng, out = self.rng, []
        for student in self.students:
            schooling = self.schoolings[student][0]
            uai = rng.choice(UAIS)
            for version in rng.sample(range(1, 5), rng.randint(0, 3)):
                out.append(self.copy(rng.choice(["RibOnFile", "RibStatusChanged"]), student_id=student,
                                     establishment_uai=uai, version=version, has_active_rib=rng.random() < 0.7))
                if rng.random() < 0.3:  # the same version again (applied again), here saying otherwise
                    out.append(self.copy("RibStatusChanged", student_id=student, establishment_uai=uai,
                                         version=version, has_active_rib=rng.random() < 0.5))
            if rng.random() < 0.3:
                out.append(self.copy("SchoolingHiddenChanged", schooling_id=schooling, student_id=student,
                                     hidden=rng.random() < 0.5, version=rng.randint(1, 3)))
            if rng.random() < 0.3:
                out.append(self.copy("StudentIneStatusChanged", student_id=student, version=rng.randint(1, 3),
                                     ine_status=rng.choice(["not_found", "found"])))
        for uai in UAIS:
            for _ in range(rng.randint(1, 3)):
                out.append(self.copy("EstablishmentRegistered", uai=uai, name=rng.choice(["LP A", "LP D"]),
                                     academy_code=rng.choice(["14", "27"])))
        rng.shuffle(out)
        return out

    def merges(self) -> list[list[Envelope]]:
        """A few merges, each followed by what may still come keyed by the merged student: a schooling not seen
        yet, its identity (a student merged before pfmp knew it)."""
        streams = []
        for n in range(4):
            merged, survivor = self.rng.sample(self.students, 2) if n % 2 else (uuid.uuid4(), self.students[n])
            opened = self.schooling_stream(merged, uuid.uuid4(), None)[:1]
            streams.append([self.copy("StudentsMerged", merged_id=merged, survivor_id=survivor, version=1),
                            *opened, *([] if n % 2 else self.student_stream(merged)[:1])])
        return streams


async def hold(pool: asyncpg.Pool, world: World, held: dict[uuid.UUID, int], seed: int) -> None:
    """What earlier batches left: some students and schoolings (some projected before migrations 0017/0018:
    no MEF ministry nor fingerprint), establishments and counters."""
    rng = random.Random(seed)
    students: list[dict[str, Any]] = [{"student_id": s, "ine": "000111223AB", "last_name": "ANCIEN", "first_names": ["Nora"],
                 "asp_data_ready": True, "da_identity_sha": rng.choice([None, "0" * 64]),
                 "da_identity_at": START, "identity_version": rng.choice([0, 0, 1, 2])}
                for s in world.students if rng.random() < 0.3]
    schoolings: list[dict[str, Any]] = [{"schooling_id": sc, "student_id": s, "uai": UAIS[0], "school_year": 2025, "status": "student",
                   "start_date": date(2025, 9, 1), "end_date": None, "version": held[sc], "class_label": None,
                   "academy_code": None, "mef_ministry": None, "da_content_sha": None, "da_content_at": None}
                  for s, scs in world.schoolings.items() for sc in scs if sc in held]
    async with pool.acquire() as conn, conn.transaction():
        await projection_sql.write_students(conn, students, {r["student_id"] for r in students})
        await projection_sql.write_schoolings(conn, schoolings, {r["schooling_id"] for r in schoolings})
        await projection_sql.register_establishments(conn, {"0999001K": (
            EstablishmentFacts("0999001K", "LP HELD", "MENJ", None, "99"), START + timedelta(minutes=20))})
        await projection_sql.count_stale(conn, {"SchoolingOpened": 3})


async def everything(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Every table of the schema, rows as sorted text (order of insertion aside), but the columns the database
    dates itself (`DEFAULT now()`: when each run wrote the row)."""
    columns: dict[str, list[str]] = {}
    for r in await pool.fetch(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
            "USING (table_schema, table_name) WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "AND coalesce(c.column_default, '') NOT LIKE '%now()%' ORDER BY c.ordinal_position"):
        columns.setdefault(r["table_name"], []).append(r["column_name"])
    return {t: sorted(str(tuple(r.values())) for r in await pool.fetch(f"SELECT {', '.join(cs)} FROM {t}"))
            for t, cs in columns.items() if t not in NOT_COMPARED and "migration" not in t}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_the_batch_handler_leaves_the_state_the_per_event_handlers_leave(
        pool: asyncpg.Pool, second: asyncpg.Pool, seed: int) -> None:
    rng = random.Random(seed)
    world = World(rng, 60)
    held = {sc: rng.choice([0, 1, 2]) for scs in world.schoolings.values() for sc in scs if rng.random() < 0.3}
    streams = [world.student_stream(s) for s in world.students]
    streams += [world.schooling_stream(s, sc, held.get(sc)) for s, scs in world.schoolings.items() for sc in scs]
    streams += [world.others(), *world.merges()]
    events = interleave(rng, streams)
    per_event = handlers()
    for p in (pool, second):
        await hold(p, world, held, seed)

    async with pool.acquire() as conn:
        for event in events:
            async with conn.transaction():
                await per_event[event.event_type](conn, event)
    apply = projection_batch.batch_handler(per_event)
    async with second.acquire() as conn:
        at = 0
        while at < len(events):
            cut = rng.choice([1, 3, 20, 100, 500])
            async with conn.transaction():
                await apply(conn, events[at:at + cut])
            at += cut

    expected, got = await everything(pool), await everything(second)
    assert len(expected["students"]) == 62
    assert len(expected["schoolings"]) > 60
    assert int(await pool.fetchval("SELECT sum(dropped) FROM stale_events")) > 20
    assert await pool.fetchval("SELECT count(*) FROM schoolings WHERE da_content_at = '-infinity'") > 0
    assert await pool.fetchval("SELECT count(*) FROM students WHERE merged_into IS NOT NULL") > 0
    for table in expected:
        assert got[table] == expected[table], table


async def test_a_batch_runs_the_same_few_statements_whatever_its_size(pool: asyncpg.Pool) -> None:
    rng = random.Random(7)
    apply = projection_batch.batch_handler(handlers())
    statements: list[str] = []
    counts = []
    async with pool.acquire() as conn:
        for size, measured in ((10, False), (20, True), (200, True)):
            world = World(rng, size)
            streams = [world.student_stream(s) for s in world.students]
            streams += [world.schooling_stream(s, sc, None) for s, scs in world.schoolings.items() for sc in scs]
            streams.append([e for e in world.others() if e.event_type in projection_batch.FOLDED])
            events = interleave(rng, streams)
            async with conn.transaction():
                before = len(statements)
                await apply(conn, events)
                counts.append(len(statements) - before)
            if not measured:  # asyncpg learns the array types once per connection (its catalogue queries)
                conn.add_query_logger(lambda record: statements.append(record.query))
    # Read (locked) and write the students, the schoolings, the RIB statuses; the establishments' times held
    # (EstablishmentRegistered's stale count) and their write; the stale counters.
    assert counts[1:] == [9, 9]
