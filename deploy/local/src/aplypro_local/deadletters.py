"""Dead letters for operators: count and list the `*.dlt` topics, and replay dead letters onto their source.

A replayed message is the original one (key, body, headers) without the `dlt-*` headers, plus
`replay-attempts` (the dead letter's `dlt-attempts`) and `replay-for` (the consumer that gave it up, so
no other consumer of the topic takes it again): that consumer processes it again (its inbox row
says it was dead-lettered), and if it fails again the new dead letter counts its attempts on from there.
An event already processed stays a no-op however often it is replayed. Bodies are never printed: they
may hold personal data.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aplypro_contracts.topics import dead_letter_topic
from aplypro_servicekit.deadletter import (
    DLT_HEADER_PREFIX,
    REPLAY_ATTEMPTS_HEADER,
    REPLAY_FOR_HEADER,
    TRUNCATED_HEADER,
)
from aplypro_servicekit.kafka import make_producer
from aplypro_servicekit.kafka_security import client_kwargs

DLT_SUFFIX = dead_letter_topic("")
IDLE_POLL_MS = 1000  # a poll this long that brings nothing ends a read


class UnknownTopic(LookupError):
    """The dead-letter topic does not exist on the broker."""

    code = "unknown_topic"


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str, default: str = "-") -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return default

    @property
    def reason_code(self) -> str:
        return self.header("dlt-reason-code", "unknown")

    @property
    def source_topic(self) -> str | None:
        source = self.header("dlt-source-topic", "")
        return source or None

    def why_not_replayable(self) -> str | None:
        """Why this dead letter cannot go back to its source, or None if it can."""
        if self.source_topic is None:
            return "no_source_topic"  # a piece of work given up (documents), not a message
        if self.header(TRUNCATED_HEADER, ""):
            return "body_truncated"  # the original was too big to keep whole
        return None

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original headers without ours, the attempts already spent, and the consumer it is for."""
        kept = [(k, v) for k, v in self.headers
                if not k.startswith(DLT_HEADER_PREFIX) and k not in (REPLAY_ATTEMPTS_HEADER, REPLAY_FOR_HEADER)]
        attempts = self.header("dlt-attempts", "0")
        kept.append((REPLAY_ATTEMPTS_HEADER, (attempts if attempts.isdigit() else "0").encode()))
        if (service := self.header("dlt-service", "")) and (consumer := self.header("dlt-consumer", "")):
            kept.append((REPLAY_FOR_HEADER, f"{service}.{consumer}".encode()))
        elif service:
            kept.append((REPLAY_FOR_HEADER, service.encode()))
        return kept

    def describe(self) -> str:
        """One tab-separated line: position, source position, reason, attempts, event type, time."""
        source = (f"{self.header('dlt-source-topic')}:{self.header('dlt-source-partition')}:"
                  f"{self.header('dlt-source-offset')}")
        when = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(timespec="seconds")
        return "\t".join([f"{self.partition}:{self.offset}", source, self.reason_code,
                          self.header("dlt-attempts"), self.header("event-type"), when])


DESCRIBE_HEADER = "\t".join(["dlt_position", "source", "reason_code", "attempts", "event_type", "timestamp"])


def resolve(topic: str, namespace: str) -> str:
    """The full dead-letter topic name from a source or DLT name, with or without the namespace."""
    name = topic if topic.endswith(DLT_SUFFIX) else dead_letter_topic(topic)
    return name if name.startswith(namespace) else f"{namespace}{name}"


async def dead_letter_topics(bootstrap: str, namespace: str) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_kwargs())
    await consumer.start()
    try:
        return sorted(t for t in await consumer.topics() if t.startswith(namespace) and t.endswith(DLT_SUFFIX))
    finally:
        await consumer.stop()


async def read_dead_letters(bootstrap: str, topic: str) -> list[DeadLetter]:
    """Every record of the topic, from the start to its end (no consumer group: nothing committed).

    The end is the end offsets, and then a poll that brings nothing: the embedded broker (Tansu) reports
    too low an end offset for a partition whose last write held several records.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", **client_kwargs())
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            raise UnknownTopic(f"no topic {topic}")
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        letters: list[DeadLetter] = []
        while True:
            batches = await consumer.getmany(timeout_ms=IDLE_POLL_MS)
            letters += [DeadLetter(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value or b"",
                                   tuple(r.headers or ())) for records in batches.values() for r in records]
            if not batches and all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                break
        return sorted(letters, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def counts_by_reason(bootstrap: str, namespace: str) -> list[tuple[str, Counter[str]]]:
    """Each dead-letter topic of the namespace with its dead letters counted by reason code."""
    topics = await dead_letter_topics(bootstrap, namespace)
    letters = await asyncio.gather(*(read_dead_letters(bootstrap, t) for t in topics))
    return [(topic, Counter(d.reason_code for d in found)) for topic, found in zip(topics, letters, strict=True)]


@dataclass(frozen=True)
class ReplayResult:
    replayed: list[DeadLetter]
    skipped: list[tuple[DeadLetter, str]]  # with why


async def replay(bootstrap: str, topic: str, *, reason: str | None = None, dry_run: bool = False) -> ReplayResult:
    """Publish the dead letters of `topic` (of one reason code if given) back onto their source topics, in
    order; with `dry_run` only say which."""
    letters = [d for d in await read_dead_letters(bootstrap, topic) if reason is None or d.reason_code == reason]
    skipped = [(d, why) for d in letters if (why := d.why_not_replayable()) is not None]
    todo = [d for d in letters if d.why_not_replayable() is None]
    if dry_run or not todo:
        return ReplayResult(todo, skipped)
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        sent = [await producer.send(d.source_topic or "", d.value, key=d.key, headers=d.replay_headers())
                for d in todo]
        await asyncio.gather(*sent)  # every ack, or the error: a partial replay is safe to run again
    finally:
        await producer.stop()
    return ReplayResult(todo, skipped)
