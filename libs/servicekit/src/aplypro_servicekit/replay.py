"""Replay one subscription of a service from its topics (features.md §2 "Replay any service from its topics"):
every record from the start of each topic, through the subscription's own handlers, so a projection gains what a
later migration added to it (a column its events always carried).

The live consumer's inbox would take every event for a duplicate, and its committed offsets stay where they are:
the replay reads without a consumer group and claims under an inbox namespace of its own (`<consumer>.replay`,
emptied before and after), so each event runs through the handlers once more. That is only safe for handlers that
apply an event by their own rule (versions, timestamps, upserts): a projection, never a handler with effects
elsewhere. Stop the service's consumers while it runs: a handler without a version could otherwise put back an
older state over one the live consumer applied after the replay's end.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aplypro_contracts import default_registry

from .consumer import EventConsumer
from .db import create_pool, migrate
from .kafka_security import client_kwargs
from .runtime import ServiceSpec, Subscription
from .settings import ServiceSettings

log = structlog.get_logger(__name__)
IDLE_POLL_MS = 1500  # a poll this long that brings nothing, every partition past its end offset: the end


class UnknownSubscription(ValueError):
    code = "unknown_subscription"


@dataclass(frozen=True)
class ReplayReport:
    consumer: str
    topics: tuple[str, ...]
    records: int  # read from the topics
    processed: int  # run through the handlers (events of the types the subscription handles)
    dead_lettered: int


def subscription(spec: ServiceSpec, consumer_name: str) -> Subscription:
    for sub in spec.subscriptions:
        if sub.consumer_name == consumer_name:
            return sub
    names = ", ".join(s.consumer_name for s in spec.subscriptions)
    raise UnknownSubscription(f"{spec.name} has no consumer {consumer_name!r} (its consumers: {names})")


async def replay(spec: ServiceSpec, settings: ServiceSettings, consumer_name: str, *,
                 max_records: int = 500) -> ReplayReport:
    sub = subscription(spec, consumer_name)
    name = f"{consumer_name}.replay"
    topics = tuple(settings.topic(t) for t in sub.topics)
    pool = await create_pool(settings.database_url, spec.schema, size=2)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                              enable_auto_commit=False, auto_offset_reset="earliest",
                              **client_kwargs(settings.kafka_security))
    records = 0
    try:
        await migrate(pool, spec.schema, ["aplypro_servicekit", *spec.migration_packages])
        await pool.execute("DELETE FROM processed_messages WHERE consumer = $1", name)
        consumer = EventConsumer(name=name, service=spec.name, pool=pool, registry=sub.registry or default_registry(),
                                 handlers=sub.handlers, transient_attempts=settings.transient_attempts,
                                 batch_handler=sub.batch_handler, dead_letter=sub.dead_letter,
                                 skip_headers=sub.skip_headers)
        await reader.start()
        known = await reader.topics()
        partitions = [TopicPartition(t, p) for t in topics if t in known
                      for p in sorted(reader.partitions_for_topic(t) or ())]
        if not partitions:
            return ReplayReport(consumer_name, topics, 0, 0, 0)
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)
        await reader.seek_to_beginning(*partitions)
        while True:
            # Partition by partition: a batch keeps one partition's order (a student's events, in order).
            batches = await reader.getmany(timeout_ms=IDLE_POLL_MS, max_records=max_records)
            for batch in batches.values():
                await consumer.process_batch(batch)
                records += len(batch)
            # The end offsets and then an empty poll (Tansu may report too low an end offset).
            if not batches and all([await reader.position(tp) >= ends[tp] for tp in partitions]):
                break
        log.info("replay_done", consumer=consumer_name, records=records, processed=consumer.processed,
                 dead_lettered=consumer.dead_lettered)
        return ReplayReport(consumer_name, topics, records, consumer.processed, consumer.dead_lettered)
    finally:
        await reader.stop()
        await pool.execute("DELETE FROM processed_messages WHERE consumer = $1", name)
        await pool.close()
