"""Runs one service: pool and migrations, topics, outbox relay, batch subscribers, clean stop on signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aplypro_contracts import default_registry
from faststream.kafka import KafkaBroker

from .consumer import BatchHandler, EventConsumer, EventHandler
from .db import create_pool, migrate
from .kafka import ensure_topics, make_producer, subscribe
from .relay import OutboxRelay
from .relay_process import DRAIN_SECONDS, start_relay_process
from .settings import ServiceSettings
from .workers import SpecFactory, start_worker, watch_parent

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Subscription:
    topics: Sequence[str]
    consumer_name: str
    handlers: Mapping[str, EventHandler]
    batch_handler: BatchHandler | None = None


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


class ServiceRuntime:
    def __init__(self, spec: ServiceSpec, settings: ServiceSettings, *, worker: int = 0,
                 factory: SpecFactory | None = None) -> None:
        """`worker` 0 is the main process (relay, background tasks, extra workers when `factory` is
        given and settings ask for more consumer processes); other workers only consume."""
        self.spec = spec
        self.settings = settings
        self.worker = worker
        self._factory = factory
        self.workers: list[BaseProcess] = []
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.broker: KafkaBroker | None = None
        self.relay: OutboxRelay | None = None  # in this process, or:
        self.relay_process: BaseProcess | None = None
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at = time.monotonic()

    async def start(self) -> None:
        s = self.settings
        self.pool = await create_pool(s.database_url, self.spec.schema, size=s.db_pool_size)
        applied = await migrate(self.pool, self.spec.schema, ["aplypro_servicekit", *self.spec.migration_packages])
        topics = [s.topic(t) for t in {*self.spec.produces, *(t for sub in self.spec.subscriptions for t in sub.topics)}]
        await ensure_topics(s.kafka_bootstrap_servers, topics, s.topic_partitions, s.topic_replication_factor)
        if self.worker:
            pass  # an extra consumer process: the main process publishes
        elif s.relay_process:
            self._tasks.append(asyncio.create_task(self._keep_relay_process()))
        else:
            self.producer = make_producer(s.kafka_bootstrap_servers)
            await self.producer.start()
            self.relay = OutboxRelay(self.pool, self.producer, self.spec.schema, batch_size=s.relay_batch_size)
            self._tasks.append(asyncio.create_task(self._guard(self.relay.run, "relay")))
        self.broker = KafkaBroker(s.kafka_bootstrap_servers, logger=None)
        registry = default_registry()
        for sub in self.spec.subscriptions:
            consumer = EventConsumer(
                name=sub.consumer_name, service=self.spec.name, schema=self.spec.schema, pool=self.pool,
                registry=registry, handlers=sub.handlers, transient_attempts=s.transient_attempts,
                batch_handler=sub.batch_handler, lanes=s.consumer_lanes,
            )
            subscribe(self.broker, s, consumer, sub.topics, group=f"{self.spec.name}.{sub.consumer_name}")
            self.consumers.append(consumer)
        await self.broker.start()
        for task in self.spec.background if not self.worker else ():
            self._tasks.append(asyncio.create_task(self._guard(self._bind(task), task.__name__)))
        if not self.worker and self._factory is not None:
            for index in range(1, s.consumer_processes):
                self._tasks.append(asyncio.create_task(self._keep_worker(index)))
        log.info("service_started", migrations_applied=len(applied), topics=len(topics))

    async def _guard(self, factory: Callable[[], Awaitable[None]], what: str) -> None:
        """Background loops restart after an error (database or broker briefly down) instead of dying."""
        while True:
            try:
                await factory()
                return
            except Exception as exc:
                log.error("background_task_failed", task=what, error=type(exc).__name__, detail=str(exc)[:200])
                await asyncio.sleep(1.0)

    async def _keep_relay_process(self) -> None:
        """Start the relay process and start it again whenever it dies."""
        while True:
            self.relay_process = start_relay_process(self.settings, self.spec.name, self.spec.schema)
            while self.relay_process.is_alive():
                await asyncio.sleep(0.5)
            log.error("relay_process_died", exit_code=self.relay_process.exitcode)
            await asyncio.sleep(1.0)

    async def _keep_worker(self, index: int) -> None:
        """Start an extra consumer process and start it again whenever it dies."""
        assert self._factory is not None
        while True:
            process = start_worker(self._factory, self.settings, index)
            self.workers.append(process)
            while process.is_alive():
                await asyncio.sleep(0.5)
            self.workers.remove(process)
            log.error("worker_died", worker=index, exit_code=process.exitcode)
            await asyncio.sleep(1.0)

    async def _stop_workers(self) -> None:
        for process in self.workers:
            process.terminate()  # SIGTERM: it finishes its batch and leaves the group
        for process in self.workers:
            await asyncio.to_thread(process.join, 20)
            if process.is_alive():
                process.kill()

    async def _stop_relay_process(self) -> None:
        process = self.relay_process
        if process is None or not process.is_alive():
            return
        process.terminate()  # SIGTERM: it publishes what is left, then exits
        await asyncio.to_thread(process.join, DRAIN_SECONDS + 5)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5)

    def _bind(self, task: BackgroundTask) -> Callable[[], Awaitable[None]]:
        return lambda: task(self)

    async def stop(self) -> None:
        if self.broker is not None:
            await self.broker.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.relay is not None and self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain(), DRAIN_SECONDS)
        await self._stop_workers()  # cancelled supervisors leave their running process in the list
        await self._stop_relay_process()
        if self.producer is not None:
            await self.producer.stop()
        if self.pool is not None:
            await self.pool.close()
        log.info("service_stopped")

    async def _drain(self) -> None:
        """Publish what is left in the outbox before stopping."""
        assert self.relay is not None
        while await self.relay.publish_batch():
            pass

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
