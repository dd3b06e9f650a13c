"""The ops port on the real broker and database: alive at once, ready once consumers are assigned (not
when the database is unreachable), and metrics that count what was consumed, dead-lettered and relayed,
the relay child's included."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aplypro_contracts import SchoolingOpened, to_wire
from aplypro_contracts.topics import STUDENTS_EVENTS, dead_letter_topic
from aplypro_local.testing import probe_schooling, read_topic
from aplypro_servicekit.db import Connection
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription
from aplypro_servicekit.schema_gauges import SchemaGauge
from aplypro_servicekit.settings import ServiceSettings
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

CONSUMED = "aplypro_events_consumed_total"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def get(port: int, path: str) -> tuple[int, bytes]:
    def call() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
    return await asyncio.to_thread(call)


async def until_answering(port: int) -> None:
    for _ in range(100):
        try:
            await get(port, "/healthz")
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("the ops port never answered")


async def series(port: int, name: str, **labels: str) -> list[float]:
    """The values of the series on /metrics with this name and these labels."""
    status, body = await get(port, "/metrics")
    assert status == 200
    return [float(s.value) for family in text_string_to_metric_families(body.decode()) for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


async def sample(port: int, name: str, **labels: str) -> float:
    """The value of one series on /metrics (0 when it is not there yet)."""
    found = await series(port, name, **labels)
    assert len(found) <= 1, found
    return found[0] if found else 0.0




def probe_runtime(settings: ServiceSettings, seen: list[str]) -> ServiceRuntime:
    async def on_schooling(conn: Connection, event: SchoolingOpened) -> None:
        await conn.execute("SELECT 1")
        seen.append(event.class_label)

    spec = ServiceSpec(
        name="probe", schema=settings.db_schema("probe"), migration_packages=[], produces=[],
        subscriptions=[Subscription([STUDENTS_EVENTS], "probe", {"SchoolingOpened": on_schooling})],
        gauges=[SchemaGauge("aplypro_probe_queue", "Rows per kind.", ("kind",),
                            "SELECT kind, count(*) AS value FROM probe_queue GROUP BY kind"),
                SchemaGauge("aplypro_probe_broken", "A query on a table that is not there.", (),
                            "SELECT count(*) AS value FROM no_such_table")],
    )
    return ServiceRuntime(spec, settings)


async def on_schooling_anywhere(conn: Connection, event: SchoolingOpened) -> None:
    await conn.execute("SELECT 1")


def build_probe(settings: ServiceSettings) -> ServiceSpec:
    """Module level: an extra consumer process imports it to build its own copy."""
    return ServiceSpec(
        name="probe", schema=settings.db_schema("probe"), migration_packages=[], produces=[],
        subscriptions=[Subscription([STUDENTS_EVENTS], "probe", {"SchoolingOpened": on_schooling_anywhere})],
    )


async def test_health_readiness_and_the_consumed_counter(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    port = free_port()
    monkeypatch.setenv("APLYPRO_OPS_PORT", str(port))
    settings = ServiceSettings()
    seen: list[str] = []
    runtime = probe_runtime(settings, seen)
    starting = asyncio.create_task(runtime.start())
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        await until_answering(port)
        # Alive while starting, not ready: the consumer group is not joined yet.
        assert await get(port, "/healthz") == (200, b"ok\n")
        status, body = await get(port, "/readyz")
        assert not starting.done()
        assert status == 503
        assert json.loads(body)["consumers_assigned"] is False
        await starting
        status, body = await get(port, "/readyz")
        assert status == 200, body
        assert json.loads(body) == {"ready": True, "database": True, "migrations": True, "broker": True,
                                    "consumers_assigned": True}
        assert await get(port, "/nowhere") == (404, b"not found\n")

        before = await sample(port, CONSUMED, consumer="probe", event_type="SchoolingOpened", process="main")
        await producer.start()
        body_a, _ = to_wire(probe_schooling("A"))
        await producer.send_and_wait(settings.topic(STUDENTS_EVENTS), body_a, key=b"k")
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.1)
        assert seen == ["A"]
        after = await sample(port, CONSUMED, consumer="probe", event_type="SchoolingOpened", process="main")
        assert after == before + 1
        assert await sample(port, "aplypro_batch_seconds_count", consumer="probe") >= 1
        lags = await series(port, "aplypro_consumer_lag", topic=settings.topic(STUDENTS_EVENTS))
        assert lags
        assert set(lags) == {0.0}  # all caught up
        assert await sample(port, "aplypro_consumer_assigned_partitions", process="main") == settings.topic_partitions
        # Stale drops are the services' own `stale_events` table, read at scrape.
        assert runtime.pool is not None
        await runtime.pool.execute("CREATE TABLE stale_events (event_type text PRIMARY KEY, dropped bigint NOT NULL);"
                                   "INSERT INTO stale_events VALUES ('PfmpValidated', 3)")
        assert await sample(port, "aplypro_events_stale_dropped_total", event_type="PfmpValidated") == 3
        # The service's own gauges, read at scrape; a failing one stays empty and spoils nothing else.
        await runtime.pool.execute("CREATE TABLE probe_queue (kind text); INSERT INTO probe_queue "
                                   "VALUES ('decision'), ('decision'), ('statement')")
        assert await sample(port, "aplypro_probe_queue", kind="decision") == 2
        assert await sample(port, "aplypro_probe_queue", kind="statement") == 1
        assert await series(port, "aplypro_probe_broken") == []
        assert await sample(port, "aplypro_outbox_depth") == 0

        # The database unreachable (its address now a closed port): alive, not ready, and says why.
        unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
        runtime.settings = runtime.settings.model_copy(update={"database_url": unreachable})
        status, body = await get(port, "/readyz")
        assert status == 503
        assert json.loads(body)["database"] is False
        assert (await get(port, "/healthz"))[0] == 200
        runtime.settings = settings
    finally:
        await producer.stop()
        if not starting.done():
            starting.cancel()
        await runtime.stop()
    with pytest.raises(urllib.error.URLError):
        await get(port, "/healthz")  # the port is closed with the service


async def test_the_relay_process_metrics_are_served_by_the_main_process(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    port = free_port()
    monkeypatch.setenv("APLYPRO_OPS_PORT", str(port))
    monkeypatch.setenv("APLYPRO_RELAY_PROCESS", "true")
    settings = ServiceSettings()
    runtime = probe_runtime(settings, [])
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    try:
        topic = settings.topic(STUDENTS_EVENTS)
        dead_lettered = {"consumer": "probe", "event_type": "unparsed", "reason": "malformed", "process": "main"}
        # Counters live as long as the process: other tests' probes may have counted already.
        before = await sample(port, "aplypro_events_dead_lettered_total", **dead_lettered)
        # A poison record: dead-lettered by the consumer (main process), published by the relay (its child).
        await producer.send_and_wait(topic, b"{not json", key=b"k")
        await read_topic(service_env["KAFKA_BOOTSTRAP_SERVERS"], dead_letter_topic(topic), expected=1, timeout=20)
        assert await sample(port, "aplypro_events_dead_lettered_total", **dead_lettered) - before == 1
        published = 0.0
        for _ in range(40):  # the child snapshots its metrics every few seconds
            published = await sample(port, "aplypro_relay_published_total", process="relay")
            if published:
                break
            await asyncio.sleep(0.25)
        assert published == 1
        assert await sample(port, "aplypro_outbox_depth", process="main") == 0
    finally:
        await producer.stop()
        await runtime.stop()


async def test_an_extra_consumer_process_is_counted_by_the_main_one(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    port = free_port()
    monkeypatch.setenv("APLYPRO_OPS_PORT", str(port))
    monkeypatch.setenv("APLYPRO_CONSUMER_PROCESSES", "2")
    # The spawned worker imports `build_probe` from this module by its pytest name (libs.servicekit...).
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[3]))
    settings = ServiceSettings()
    runtime = ServiceRuntime(build_probe(settings), settings, factory=build_probe)
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()
    try:
        # Both processes hold partitions once the worker joined (range assignment: half each).
        for _ in range(120):
            if await sample(port, "aplypro_consumer_assigned_partitions", process="worker-1") > 0:
                break
            await asyncio.sleep(0.5)
        assert await sample(port, "aplypro_consumer_assigned_partitions", process="worker-1") > 0
        # The main process's counters live as long as this test process: count from here.
        before = await sample(port, CONSUMED, consumer="probe", event_type="SchoolingOpened", process="main")
        sent = 40
        for index in range(sent):  # keys spread over every partition
            body, _ = to_wire(probe_schooling(f"C{index}"))
            await producer.send_and_wait(settings.topic(STUDENTS_EVENTS), body, key=str(index).encode())
        counted: dict[str, float] = {}
        for _ in range(80):
            counted = {p: await sample(port, CONSUMED, consumer="probe", event_type="SchoolingOpened", process=p)
                       for p in ("main", "worker-1")}
            counted["main"] -= before
            if sum(counted.values()) >= sent:
                break
            await asyncio.sleep(0.25)
        assert sum(counted.values()) == sent
        assert counted["worker-1"] > 0
        assert counted["main"] > 0
    finally:
        await producer.stop()
        await runtime.stop()
