"""A service whose two instances stopped cleanly, one after the other, consumes again when it restarts.

On the embedded broker, the second stop used to leave the consumer group with a departed leader for
good (group_leave.py): the restarted instance waited in `broker.start()` forever and nothing was paid.
This is what a rolling restart or a scale-down does, and it is how the drills got stuck.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aplypro_contracts import SchoolingOpened, to_wire
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_local.testing import probe_schooling
from aplypro_servicekit.db import Connection
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription
from aplypro_servicekit.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_LIMIT_S = 60  # a few session timeouts (6 s in tests): the departed members must expire first




async def test_a_restart_after_two_clean_stops_consumes_again(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    settings = ServiceSettings()
    seen: list[str] = []

    async def on_schooling(conn: Connection, event: SchoolingOpened) -> None:
        await conn.execute("SELECT 1")
        seen.append(event.class_label)

    spec = ServiceSpec(
        name="probe", schema=settings.db_schema("probe"), migration_packages=[], produces=[],
        subscriptions=[Subscription([STUDENTS_EVENTS], "probe", {"SchoolingOpened": on_schooling})],
    )
    first, second = ServiceRuntime(spec, settings), ServiceRuntime(spec, settings)
    await first.start()  # the group's leader: the first member to join
    await second.start()
    await second.stop()  # a rebalance starts, still led by the first instance...
    await first.stop()  # ...which stops before it is over

    restarted = ServiceRuntime(spec, settings)
    try:
        await asyncio.wait_for(restarted.start(), START_LIMIT_S)
        producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
        await producer.start()
        try:
            body, _headers = to_wire(probe_schooling("AFTER"))
            await producer.send_and_wait(settings.topic(STUDENTS_EVENTS), body, key=b"k")
        finally:
            await producer.stop()
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.1)
        assert seen == ["AFTER"]
    finally:
        await restarted.stop()
