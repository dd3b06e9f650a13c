"""Publishing messages in order: one record batch per partition at a time, a message too large parked.

Each partition sends its next batch only after the broker acked the previous one (aiokafka sends one
request per broker at a time anyway, so this costs nothing), so a batch the broker refuses never lets a
later batch of that partition overtake it. A refused batch is sent again one record at a time, in
order, and only the record the broker still refuses is parked: the relay never blocks on one message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, Protocol

import structlog
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError

from .record_size import max_record_bytes

log = structlog.get_logger(__name__)

# topic, key, value, headers
Message = tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]

# Apache Kafka's answers to a record or batch over `message.max.bytes` (Tansu takes them), and aiokafka's own.
TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)
OVER_LIMIT = "record_too_large"  # over APLYPRO_MAX_RECORD_BYTES: written before the guard existed
BROKER_REFUSED = "broker_refused_too_large"  # the broker's limit is lower than ours


class Parked(NamedTuple):
    message: Message
    reason: str


class BatchProducer(Protocol):
    """What the relay needs of `AIOKafkaProducer` (a test wraps one to refuse big batches like Kafka)."""

    def create_batch(self) -> Any: ...

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any: ...

    async def partitions_for(self, topic: str) -> Any: ...


def message_size(message: Message) -> int:
    """Bytes the record takes on the wire, near enough (as `record_size` counts an outbox row)."""
    _, key, value, headers = message
    return len(value) + len(key or b"") + sum(len(k) + len(v) for k, v in headers)


async def send_in_batches(producer: BatchProducer, messages: Iterable[Message],
                          partition_of: Callable[[str, bytes | None], int]) -> list[Parked]:
    """Publish the messages (per-partition order kept) and wait for the broker's acks; returns the ones
    parked instead of sent, each with its reason."""
    limit = max_record_bytes()
    parked: list[Parked] = []
    by_partition: dict[tuple[str, int], list[Message]] = {}
    for message in messages:
        if len(message[2]) > limit // 2 and message_size(message) > limit:
            parked.append(_park(message, OVER_LIMIT, "over_setting"))
            continue
        by_partition.setdefault((message[0], partition_of(message[0], message[1])), []).append(message)
    results = await asyncio.gather(*(_send_partition(producer, topic, partition, items)
                                     for (topic, partition), items in by_partition.items()),
                                   return_exceptions=True)
    for result in results:  # every partition settled first: nothing of this call is still being sent
        if isinstance(result, BaseException):
            raise result
        parked.extend(result)
    return parked


def _batches(producer: BatchProducer, messages: list[Message]) -> Iterator[tuple[Any, list[Message]]]:
    batch, members = producer.create_batch(), list[Message]()
    for message in messages:
        _, key, value, headers = message
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            yield batch, members  # full: this message starts the next one (a first record always fits)
            batch, members = producer.create_batch(), []
            batch.append(key=key, value=value, timestamp=None, headers=headers)
        members.append(message)
    if members:
        yield batch, members


async def _send_partition(producer: BatchProducer, topic: str, partition: int,
                          messages: list[Message]) -> list[Parked]:
    parked: list[Parked] = []
    in_flight: tuple[Any, list[Message]] | None = None
    for batch, members in _batches(producer, messages):  # the next batch is filled while one is in flight
        if in_flight is not None:
            parked += await _settle(producer, topic, partition, *in_flight)
        in_flight = (await producer.send_batch(batch, topic, partition=partition), members)
    if in_flight is not None:
        parked += await _settle(producer, topic, partition, *in_flight)
    return parked


async def _settle(producer: BatchProducer, topic: str, partition: int, acked: Any,
                  members: list[Message]) -> list[Parked]:
    try:
        await acked
        return []
    except TOO_LARGE as exc:
        if len(members) == 1:
            return [_park(members[0], BROKER_REFUSED, type(exc).__name__)]
    # Refused as a whole: again one record per batch, in order, to find the ones the broker refuses.
    parked: list[Parked] = []
    for message in members:
        single = producer.create_batch()
        single.append(key=message[1], value=message[2], timestamp=None, headers=message[3])
        parked += await _settle(producer, topic, partition,
                                await producer.send_batch(single, topic, partition=partition), [message])
    return parked


def _park(message: Message, reason: str, detail: str) -> Parked:
    # No key or body in the log: they may carry personal data.
    log.error("relay_message_parked", topic=message[0], reason=reason, detail=detail, size=message_size(message))
    return Parked(message, reason)
