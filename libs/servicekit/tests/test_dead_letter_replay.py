"""Dead letters can be replayed (`aplypro dlt replay`) once the cause is fixed: the event is applied once
however often it is replayed, one that fails again goes back to the DLT with its attempts counted on,
`--reason` filters and `--dry-run` publishes nothing. `aplypro dlt list` never prints a body.
The CLI runs as a subprocess against the real broker; the consumer is a real service runtime."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aplypro_contracts import SchoolingOpened
from aplypro_contracts.topics import STUDENTS_EVENTS, dead_letter_topic
from aplypro_local.testing import eventually, probe_schooling, produce, read_topic
from aplypro_servicekit.db import Connection
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription
from aplypro_servicekit.settings import ServiceSettings

pytestmark = pytest.mark.integration

KEY = "00000000-0000-0000-0000-00000000000a"  # one key: one partition, so a later event is a barrier
APLYPRO = str(Path(sys.executable).parent / "aplypro")


class RuleBroken(ValueError):
    code = "class_label_forbidden"


class OtherRuleBroken(ValueError):
    code = "other_rule"


def schooling(label: str) -> SchoolingOpened:
    return probe_schooling(label, uuid.UUID(KEY))


@dataclass
class Probe:
    """A consumer service whose rules can be broken and fixed; counts what it applied, in PostgreSQL."""

    env: dict[str, str]
    pool: asyncpg.Pool
    broken: dict[str, type[Exception]] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return self.env["APLYPRO_TOPIC_NAMESPACE"] + STUDENTS_EVENTS

    @property
    def dlt(self) -> str:
        return dead_letter_topic(self.topic)

    async def applied(self, label: str, consumer: str = "rules") -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM applied WHERE label = $1 AND consumer = $2",
                                            label, consumer))

    async def barrier(self) -> None:
        """Wait until everything published before now was consumed: one more event on the same key."""
        label = f"barrier-{uuid.uuid4().hex[:6]}"
        await produce(self.env["KAFKA_BOOTSTRAP_SERVERS"], self.topic, [(KEY, schooling(label))])

        async def seen() -> bool:
            return await self.applied(label) == 1 and await self.applied(label, "watcher") == 1
        await eventually(seen, 30, label)

    async def dead_letters(self, expected: int) -> list[Any]:
        return await read_topic(self.env["KAFKA_BOOTSTRAP_SERVERS"], self.dlt, expected=expected, timeout=30)

    async def cli(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            APLYPRO, "dlt", *args, env={**os.environ, **self.env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()


@pytest.fixture
async def probe(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Probe]:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    settings = ServiceSettings()
    schema = settings.db_schema("probe")
    conn = await asyncpg.connect(service_env["DATABASE_URL"])
    await conn.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.applied (label text NOT NULL, consumer text NOT NULL)")
    await conn.close()
    pool = await asyncpg.create_pool(service_env["DATABASE_URL"], min_size=1, max_size=2,
                                     server_settings={"search_path": schema})
    assert pool is not None
    probe = Probe(service_env, pool)

    async def on_schooling(conn: Connection, event: SchoolingOpened) -> None:
        if error := probe.broken.get(event.class_label):
            raise error(f"class label {event.class_label} is forbidden here")
        await conn.execute("INSERT INTO applied VALUES ($1, 'rules')", event.class_label)

    async def watch_schooling(conn: Connection, event: SchoolingOpened) -> None:
        await conn.execute("INSERT INTO applied VALUES ($1, 'watcher')", event.class_label)

    # Two consumers of the topic: "rules" breaks rules on demand, "watcher" takes every event.
    spec = ServiceSpec(
        name="probe", schema=schema, migration_packages=[], produces=[],
        subscriptions=[Subscription([STUDENTS_EVENTS], "rules", {"SchoolingOpened": on_schooling}),
                       Subscription([STUDENTS_EVENTS], "watcher", {"SchoolingOpened": watch_schooling})],
    )
    runtime = ServiceRuntime(spec, settings)
    await runtime.start()
    try:
        yield probe
    finally:
        await runtime.stop()
        await pool.close()


def headers(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def test_a_dead_letter_replayed_after_the_fix_is_applied_once_however_often_it_is_replayed(
    probe: Probe,
) -> None:
    # A rule is broken: the event is dead-lettered, the one after it applied.
    probe.broken["SECRET-LABEL"] = RuleBroken
    await produce(probe.env["KAFKA_BOOTSTRAP_SERVERS"], probe.topic,
                  [(KEY, schooling("SECRET-LABEL")), (KEY, schooling("fine"))])
    [dead] = await probe.dead_letters(expected=1)
    await probe.barrier()
    assert await probe.applied("SECRET-LABEL") == 0

    # The operator looks: counts by reason, then one line per dead letter, never the body.
    overview = await probe.cli("list")
    assert f"{probe.dlt}\t1\tclass_label_forbidden=1" in overview.splitlines()
    listing = await probe.cli("list", STUDENTS_EVENTS)
    assert listing.splitlines()[1].split("\t")[:5] == [
        f"{dead.partition}:{dead.offset}", f"{probe.topic}:{dead.partition}:{headers(dead)['dlt-source-offset']}",
        "class_label_forbidden", "1", "SchoolingOpened"]
    assert headers(dead)["dlt-consumer"] == "rules"
    assert "SECRET-LABEL" not in overview + listing
    assert KEY not in listing

    # The cause is fixed, the dead letter replayed: applied once.
    probe.broken.clear()
    assert "replayed 1 dead letters" in await probe.cli("replay", STUDENTS_EVENTS)
    await probe.barrier()
    assert await probe.applied("SECRET-LABEL") == 1

    # Replayed twice more: still once.
    await probe.cli("replay", STUDENTS_EVENTS)
    await probe.cli("replay", probe.dlt)
    await probe.barrier()
    assert await probe.applied("SECRET-LABEL") == 1
    assert await probe.applied("SECRET-LABEL", "watcher") == 1  # the replays were not for it
    # and nothing dead-lettered again
    assert len(await read_topic(probe.env["KAFKA_BOOTSTRAP_SERVERS"], probe.dlt)) == 1


async def test_a_replayed_event_that_fails_again_goes_back_to_the_dead_letter_topic_with_its_attempts(
    probe: Probe,
) -> None:
    probe.broken["STILL-BROKEN"] = RuleBroken
    await produce(probe.env["KAFKA_BOOTSTRAP_SERVERS"], probe.topic, [(KEY, schooling("STILL-BROKEN"))])
    [first] = await probe.dead_letters(expected=1)

    # Replayed before the fix: dead-lettered again, attempts counted on, the replay's own position.
    await probe.cli("replay", STUDENTS_EVENTS)
    first_again, second = await probe.dead_letters(expected=2)
    assert first_again.offset == first.offset
    assert headers(first)["dlt-attempts"] == "1"
    assert headers(second)["dlt-attempts"] == "2"
    assert headers(second)["dlt-source-offset"] != headers(first)["dlt-source-offset"]
    assert "replay-attempts" not in headers(second)
    assert second.value == first.value
    assert second.key == first.key
    await probe.barrier()
    assert await probe.applied("STILL-BROKEN") == 0

    # Fixed; the newest dead letter replayed (both are: the event is applied once).
    probe.broken.clear()
    await probe.cli("replay", STUDENTS_EVENTS)
    await probe.barrier()
    assert await probe.applied("STILL-BROKEN") == 1


async def test_replay_keeps_to_its_reason_and_a_dry_run_publishes_nothing(probe: Probe) -> None:
    probe.broken.update({"FORBIDDEN": RuleBroken, "OTHER": OtherRuleBroken})
    await produce(probe.env["KAFKA_BOOTSTRAP_SERVERS"], probe.topic,
                  [(KEY, schooling("FORBIDDEN")), (KEY, schooling("OTHER")), (KEY, b"{not json")])
    await probe.dead_letters(expected=4)  # the malformed one by both consumers
    await probe.barrier()
    source_records = len(await read_topic(probe.env["KAFKA_BOOTSTRAP_SERVERS"], probe.topic))
    probe.broken.clear()

    # A dry run says what it would do and publishes nothing.
    dry = await probe.cli("replay", STUDENTS_EVENTS, "--dry-run")
    assert "would replay 4 dead letters" in dry
    assert len(await read_topic(probe.env["KAFKA_BOOTSTRAP_SERVERS"], probe.topic)) == source_records

    # Only the dead letters of one reason go back.
    out = await probe.cli("replay", STUDENTS_EVENTS, "--reason", "other_rule")
    assert "replayed 1 dead letters" in out
    await probe.barrier()
    assert await probe.applied("OTHER") == 1
    assert await probe.applied("FORBIDDEN") == 0
    assert len(await read_topic(probe.env["KAFKA_BOOTSTRAP_SERVERS"], probe.topic)) == source_records + 2

    # The malformed one, replayed: each consumer takes back only its own dead letter (2 more, not 4).
    assert "replayed 2 dead letters" in await probe.cli("replay", STUDENTS_EVENTS, "--reason", "malformed")
    await probe.barrier()
    dead = await read_topic(probe.env["KAFKA_BOOTSTRAP_SERVERS"], probe.dlt)
    again = [headers(d) for d in dead if headers(d)["dlt-attempts"] == "2"]
    assert len(dead) == 6
    assert sorted(h["dlt-consumer"] for h in again) == ["rules", "watcher"]
    assert {h["dlt-reason-code"] for h in again} == {"malformed"}
