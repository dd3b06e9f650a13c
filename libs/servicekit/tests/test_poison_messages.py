"""Poison messages land in the dead-letter topic with a readable reason; the consumer goes on."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer
from aplypro_contracts import SchoolingOpened, to_wire
from aplypro_contracts.topics import STUDENTS_EVENTS, dead_letter_topic
from aplypro_local.testing import probe_schooling, read_topic
from aplypro_servicekit.db import Connection
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription
from aplypro_servicekit.settings import ServiceSettings

pytestmark = pytest.mark.integration


class RuleBroken(ValueError):
    code = "class_label_forbidden"




async def test_poison_goes_to_the_dead_letter_topic_and_the_consumer_goes_on(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    settings = ServiceSettings()
    seen: list[str] = []

    async def on_schooling(conn: Connection, event: SchoolingOpened) -> None:
        if event.class_label == "FORBIDDEN":
            raise RuleBroken("class label is forbidden here")
        await conn.execute("SELECT 1")
        seen.append(event.class_label)

    spec = ServiceSpec(
        name="probe", schema=settings.db_schema("probe"), migration_packages=[], produces=[],
        subscriptions=[Subscription([STUDENTS_EVENTS], "probe", {"SchoolingOpened": on_schooling})],
    )
    runtime = ServiceRuntime(spec, settings)
    await runtime.start()
    topic = settings.topic(STUDENTS_EVENTS)
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    try:
        good_before, _headers = to_wire(probe_schooling("A"))
        bad_rule, _bad_headers = to_wire(probe_schooling("FORBIDDEN"))
        unknown_version = json.loads(to_wire(probe_schooling("B"))[0])
        unknown_version["schema_version"] = 99
        # An old v1 message (written before text fields refused control characters) holding one.
        old_control = json.loads(to_wire(probe_schooling("B"))[0])
        old_control.update(schema_version=1, class_label="TLE\x07PRO")
        del old_control["version"]
        good_after, _ = to_wire(probe_schooling("C"))
        # Narrated: a good event, malformed JSON, an unknown version, a broken rule, an old message with a
        # control character, a good event again.
        for body in (good_before, b"{not json", json.dumps(unknown_version).encode(), bad_rule,
                     json.dumps(old_control).encode(), good_after):
            await producer.send_and_wait(topic, body, key=b"k")
        dead = await read_topic(service_env["KAFKA_BOOTSTRAP_SERVERS"], dead_letter_topic(topic), expected=4,
                                timeout=20)
        reasons = sorted(dict(r.headers)["dlt-reason-code"].decode() for r in dead)
        assert reasons == ["class_label_forbidden", "malformed", "schema_violation", "unsupported_schema_version"]
        for record in dead:
            headers_of = dict(record.headers)
            assert headers_of["dlt-source-topic"].decode() == topic
            assert int(headers_of["dlt-source-offset"].decode()) in {1, 2, 3, 4}
            assert headers_of["dlt-reason"]
            assert headers_of["dlt-attempts"] == b"1"
        assert b"{not json" in [r.value for r in dead]
        for _ in range(100):
            if seen == ["A", "C"]:
                break
            await asyncio.sleep(0.1)
        assert seen == ["A", "C"]
    finally:
        await producer.stop()
        await runtime.stop()
