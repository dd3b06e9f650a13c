"""Kafka plumbing: topic creation, the producer the relay uses, and the faststream batch subscriber."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import TopicAlreadyExistsError
from aplypro_contracts.topics import dead_letter_topic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from .consumer import EventConsumer
from .kafka_security import KafkaSecurity, client_kwargs
from .settings import ServiceSettings


async def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int, replication: int = 1,
                        security: KafkaSecurity | None = None) -> None:
    """Create each topic and its dead-letter topic if missing (idempotent)."""
    names = sorted({t for topic in topics for t in (topic, dead_letter_topic(topic))})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_kwargs(security))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, num_partitions=partitions, replication_factor=replication) for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


def make_producer(bootstrap: str, *, request_timeout_ms: int = 40_000,
                  security: KafkaSecurity | None = None) -> AIOKafkaProducer:
    # acks=all and no idempotence: the embedded broker has no idempotent producer, and duplicates are
    # absorbed by every consumer's inbox anyway.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024,
        enable_idempotence=False, max_request_size=1024 * 1024,
        request_timeout_ms=request_timeout_ms,  # also how long an unacked batch is retried
        **client_kwargs(security),
    )


async def _raw_records(msg: KafkaMessage) -> Any:
    # The consumer decodes each record itself, so poison reaches it instead of failing in faststream.
    raw = msg.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def subscribe(broker: KafkaBroker, settings: ServiceSettings, consumer: EventConsumer,
              topics: Iterable[str], group: str) -> None:
    """Register a batch subscriber that hands raw records to `consumer`."""

    @broker.subscriber(
        *(settings.topic(t) for t in topics),
        batch=True,
        group_id=settings.group(group),
        max_records=settings.consumer_max_records,
        auto_offset_reset="earliest",
        # Never ACK_FIRST (the default): the offset is committed only once the batch is in PostgreSQL.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_records,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(settings.session_timeout_ms // 5, 500),
        batch_timeout_ms=100,
        # Range assignment gives every member the same partition numbers of each topic it reads. Topics
        # are keyed by student with equal partition counts, so all of a student's events (from every
        # topic) reach one member: one writer per cap pool, across instances and consumers.
        partition_assignment_strategy=(RangePartitionAssignor,),
        title=f"{group}:{consumer.name}",
    )
    async def handle(records: Any) -> None:
        await consumer.process_batch(records)
