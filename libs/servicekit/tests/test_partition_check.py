"""A service refuses to start on a topic whose partition count is not APLYPRO_TOPIC_PARTITIONS (a student's events
would leave one partition number: two lanes or two instances could each miss the other's write), on the real
broker; a topic its spec calls foreign (a ministry's inbound schoolings) keeps its owner's count."""

from __future__ import annotations

import pytest
from aplypro_servicekit.db import Connection
from aplypro_servicekit.kafka import ensure_topics
from aplypro_servicekit.partition_check import (
    PartitionCountMismatch,
    check_counts,
    partition_counts,
    require_partitions,
)
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription
from aplypro_servicekit.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def _nothing(conn: Connection, event: object) -> None:
    await conn.execute("SELECT 1")


def spec(settings: ServiceSettings, *, foreign: list[str]) -> ServiceSpec:
    return ServiceSpec(name="probe", schema=settings.db_schema("probe"), migration_packages=[],
                       produces=["probe.out"], foreign_topics=foreign,
                       subscriptions=[Subscription(["probe.own", "probe.inbound"], "probe", {"X": _nothing})])


async def test_a_topic_with_another_partition_count_stops_the_start_and_a_foreign_one_does_not(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    settings = ServiceSettings()
    bootstrap, expected = service_env["KAFKA_BOOTSTRAP_SERVERS"], settings.topic_partitions
    # The inbound topic was created by its owner with one partition more.
    await ensure_topics(bootstrap, [settings.topic("probe.inbound")], expected + 1)
    assert await partition_counts(bootstrap, [settings.topic("probe.inbound"), settings.topic("absent")]) == {
        settings.topic("probe.inbound"): expected + 1}
    # Asked about, a missing topic is not created (the embedded broker creates a topic named in a metadata request).
    with pytest.raises(PartitionCountMismatch, match=f"topics not found .*: {settings.topic('absent')};"):
        await require_partitions(bootstrap, [settings.topic("absent")], expected, wait_s=1.5)
    assert await partition_counts(bootstrap, [settings.topic("absent")]) == {}

    refused = ServiceRuntime(spec(settings, foreign=[]), settings)
    try:
        with pytest.raises(PartitionCountMismatch) as raised:
            await refused.start()
        assert refused.pool is not None
        assert await refused.pool.fetchval("SELECT to_regclass('outbox')") is None  # refused before its migrations
    finally:
        await refused.stop()
    assert f"{settings.topic('probe.inbound')} has {expected + 1}" in str(raised.value)
    assert settings.topic("probe.own") + " " not in str(raised.value)  # created with the setting's count

    started = ServiceRuntime(spec(settings, foreign=["probe.inbound"]), settings)
    try:
        await started.start()
        assert started.joined
    finally:
        await started.stop()


def test_the_refusal_names_every_wrong_topic_and_nothing_else() -> None:
    check_counts({"a": 4, "b": 4}, 4)  # all right: no error
    with pytest.raises(PartitionCountMismatch, match="APLYPRO_TOPIC_PARTITIONS is 4 but b has 12, c has 1:"):
        check_counts({"a": 4, "b": 12, "c": 1}, 4)
