"""Runs one service: pool and migrations, topics, outbox relay, batch subscribers, clean stop on signal."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.process import BaseProcess

import asyncpg
import structlog
from aplypro_contracts import Registry, default_registry
from faststream.kafka import KafkaBroker

from .consumer import BatchHandler, DeadLetter, EventConsumer, EventHandler
from .db import create_pool, migrate
from .deadletter import dead_letter_row
from .group_leave import set_leave_group
from .kafka import ensure_topics, subscribe
from .kafka_security import broker_security
from .metrics_share import merged_exposition, share_metrics
from .ops import expected_migrations, readiness, refresh_consumers, refresh_schema_gauges
from .ops_server import OpsServer, Probe
from .partition_check import require_partitions
from .record_size import set_max_record_bytes
from .relay_factory import STOP_SECONDS, RunningRelay, start_relay
from .relay_process import start_relay_process
from .schema_gauges import SCHEMA_GAUGES, SchemaGauge
from .settings import ServiceSettings
from .supervision import keep_process, keep_running, stop_process, watch_parent
from .workers import SpecFactory, start_worker

log = structlog.get_logger(__name__)

JOIN_REPORT_S = 30  # how often a start still waiting for its partitions says so


@dataclass(frozen=True)
class Subscription:
    topics: Sequence[str]
    consumer_name: str
    handlers: Mapping[str, EventHandler]
    batch_handler: BatchHandler | None = None
    registry: Registry | None = None  # the contracts it accepts; None: every APLyPro contract
    dead_letter: DeadLetter = dead_letter_row
    # Header values of events it never uses, skipped unparsed: {"document-kind": {"liquidation"}} (the producer
    # sets them, Envelope.routing_headers; an event without the header is read as before).
    skip_headers: Mapping[str, frozenset[str]] = field(default_factory=dict)


BackgroundTask = Callable[["ServiceRuntime"], Awaitable[None]]


@dataclass
class ServiceSpec:
    """What a service is made of; the runtime builds the real resources from it."""

    name: str
    schema: str
    migration_packages: Sequence[str]
    produces: Sequence[str]
    subscriptions: Sequence[Subscription] = ()
    background: Sequence[BackgroundTask] = field(default_factory=tuple)
    gauges: Sequence[SchemaGauge] = ()  # read from the schema at each scrape of /metrics
    # Topics another system partitions (a ministry's inbound schoolings, their rejections): their count is not
    # checked against APLYPRO_TOPIC_PARTITIONS (partition_check.py); every other topic's is, at start.
    foreign_topics: Sequence[str] = ()


class ServiceRuntime:
    def __init__(self, spec: ServiceSpec, settings: ServiceSettings, *, worker: int = 0,
                 factory: SpecFactory | None = None) -> None:
        """`worker` 0 is the main process (relay, background tasks, extra workers when `factory` is
        given and settings ask for more consumer processes); other workers only consume."""
        self.spec = spec
        self.settings = settings
        self.worker = worker
        self._factory = factory
        self.children: dict[str, BaseProcess] = {}  # "relay", "worker-1"...: the current process of each
        self.pool: asyncpg.Pool | None = None
        self.broker: KafkaBroker | None = None
        self.relay: RunningRelay | None = None  # when the relay runs in this process
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at = time.monotonic()
        self.ops: OpsServer | None = None  # /healthz, /readyz, /metrics: the main process only
        self.joined = False  # every consumer group of this process had its first assignment

    async def start(self) -> None:
        if not self.worker and self.settings.ops_listen_port:
            await self._start_ops()  # first: a pod that is starting is alive, and says it is not ready
        s = self.settings
        set_max_record_bytes(s.max_record_bytes)  # write_outbox refuses what is over it
        self.pool = await create_pool(s.database_url, self.spec.schema, size=s.db_pool_size,
                                      role=f"worker-{self.worker}" if self.worker else None)
        topics = [s.topic(t) for t in {*self.spec.produces, *(t for sub in self.spec.subscriptions for t in sub.topics)}]
        if s.create_topics:
            await ensure_topics(s.kafka_bootstrap_servers, topics, s.topic_partitions, s.topic_replication_factor,
                                s.kafka_security)
        if not self.worker:  # before the migrations (refused, the schema stays as it was); workers come after
            foreign = {s.topic(t) for t in self.spec.foreign_topics}
            await require_partitions(s.kafka_bootstrap_servers, [t for t in topics if t not in foreign],
                                     s.topic_partitions, s.kafka_security)
        applied = await migrate(self.pool, self.spec.schema, ["aplypro_servicekit", *self.spec.migration_packages])
        if not self.worker:  # an extra consumer process leaves publishing to the main one
            await self._start_relay()
        set_leave_group(s.kafka_leave_group)
        self.broker = KafkaBroker(s.kafka_bootstrap_servers, logger=None, security=broker_security(s.kafka_security))
        registry = default_registry()
        for sub in self.spec.subscriptions:
            consumer = EventConsumer(
                name=sub.consumer_name, service=self.spec.name, pool=self.pool,
                registry=sub.registry or registry, handlers=sub.handlers, transient_attempts=s.transient_attempts,
                batch_handler=sub.batch_handler, lanes=s.consumer_lanes, dead_letter=sub.dead_letter,
                skip_headers=sub.skip_headers,
            )
            subscribe(self.broker, s, consumer, sub.topics, group=f"{self.spec.name}.{sub.consumer_name}")
            self.consumers.append(consumer)
        await self._join_groups(self.broker)
        self.joined = True
        if self.worker and s.ops_metrics_dir:
            self._tasks.append(asyncio.create_task(
                share_metrics(s.ops_metrics_dir, f"worker-{self.worker}", lambda: refresh_consumers(self.broker))))
        if not self.worker:
            for task in self.spec.background:
                self._tasks.append(asyncio.create_task(keep_running(self._bind(task), task.__name__)))
            if self._factory is not None:  # extra consumer processes build the service from it
                for index in range(1, s.consumer_processes):
                    self._keep_child(f"worker-{index}", partial(start_worker, self._factory, s, index))
        log.info("service_started", migrations_applied=len(applied), topics=len(topics))

    async def _join_groups(self, broker: KafkaBroker) -> None:
        # aiokafka's start waits for a partition assignment with no deadline: say so while it lasts,
        # so a group that cannot form shows in the logs instead of a silent, idle service.
        joining = asyncio.ensure_future(broker.start())
        started = time.monotonic()
        try:
            while not (await asyncio.wait({joining}, timeout=JOIN_REPORT_S))[0]:
                log.warning("still_joining_consumer_groups", waited_s=round(time.monotonic() - started))
        finally:
            joining.cancel()  # only when this start itself is cancelled; a done future ignores it
        joining.result()

    async def _start_ops(self) -> None:
        s = self.settings
        if s.relay_process or (self._factory is not None and s.consumer_processes > 1):
            # Children leave their metrics here for this process to serve (metrics_share.py).
            directory = tempfile.mkdtemp(prefix=f"aplypro-{self.spec.name}-metrics-")
            self.settings = s.model_copy(update={"ops_metrics_dir": directory})
        SCHEMA_GAUGES.gauges = self.spec.gauges
        self.ops = OpsServer(s.ops_host, s.ops_listen_port, ready=self._ready, metrics=self._metrics)
        await self.ops.start()

    async def _ready(self) -> Probe:
        s = self.settings
        migrations = expected_migrations(["aplypro_servicekit", *self.spec.migration_packages])
        return await readiness(database_url=s.database_url, schema=self.spec.schema, migrations=migrations,
                               broker=self.broker, joined=self.joined)

    async def _metrics(self) -> bytes:
        await asyncio.gather(refresh_schema_gauges(self.settings.database_url, self.spec.schema, self.spec.gauges),
                             refresh_consumers(self.broker))
        return merged_exposition(self.settings.ops_metrics_dir or None)

    async def _start_relay(self) -> None:
        s = self.settings
        if s.relay_process:
            self._keep_child("relay", partial(start_relay_process, s, self.spec.name, self.spec.schema))
            return
        self.relay = await start_relay(s, self.spec.schema)

    def _keep_child(self, name: str, start: Callable[[], BaseProcess]) -> None:
        self._tasks.append(asyncio.create_task(keep_process(start, self.children, name)))

    def _bind(self, task: BackgroundTask) -> Callable[[], Awaitable[None]]:
        return lambda: task(self)

    async def stop(self) -> None:
        self.joined = False  # not ready any more; still alive (the ops server stops last)
        if self.broker is not None:
            await self.broker.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.relay is not None:
            await self.relay.stop()  # drains under the relay lock, then unlocks
        # Consumers first (each finishes its batch and leaves its groups), the relay last: it publishes
        # what they committed.
        for name, process in sorted(self.children.items(), key=lambda child: child[0] == "relay"):
            await stop_process(process, STOP_SECONDS + 5 if name == "relay" else 20)
        if self.pool is not None:
            await self.pool.close()
        if self.ops is not None:
            await self.ops.stop()
            if self.settings.ops_metrics_dir:
                shutil.rmtree(self.settings.ops_metrics_dir, ignore_errors=True)
        log.info("service_stopped")

    async def run_until_signalled(self, *, parent_pid: int | None = None) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if parent_pid is not None:
            self._tasks.append(asyncio.create_task(watch_parent(parent_pid, stop)))
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
