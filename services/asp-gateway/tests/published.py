"""What the gateway published, read as its consumers read it: every PaymentRequestsMoved replaced by its parts
(`with_parts`), each part with the key of the record that carried it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aplypro_contracts import PaymentRequestsMoved, default_registry
from aplypro_local.testing import read_topic
from aplypro_servicekit.key_partition import key_partition


@dataclass(frozen=True)
class Published:
    topic: str
    key: bytes | None  # the record's: a group's for each of its parts
    event: Any


def parts_of(records: Iterable[tuple[str, bytes | None, bytes, dict[str, str]]], *types: str) -> list[Published]:
    """(topic, key, body, headers) records in order, groups replaced by their parts; only `types` when given."""
    out: list[Published] = []
    for topic, key, body, headers in records:
        event = default_registry().parse(body, headers["event-type"].encode(), headers["schema-version"].encode())
        events = event.parts() if isinstance(event, PaymentRequestsMoved) else [event]
        out.extend(Published(topic, key, e) for e in events if not types or e.event_type in types)
    return out


async def outbox_parts(db: Any, *types: str) -> list[Published]:
    """The outbox (a pool or a connection), in order."""
    rows = await db.fetch("SELECT topic, key, payload, headers FROM outbox ORDER BY id")
    return parts_of(((r["topic"], r["key"], r["payload"], _json(r["headers"])) for r in rows), *types)


async def outbox_events(db: Any, *types: str) -> list[Any]:
    return [p.event for p in await outbox_parts(db, *types)]


def kafka_parts(records: Sequence[Any], *types: str) -> list[Published]:
    """Records read from the broker (aiokafka's), in the order given."""
    return parts_of(((r.topic, r.key, r.value, {k: v.decode() for k, v in r.headers}) for r in records), *types)


async def read_parts_until(bootstrap: str, topic: str, done: Callable[[list[Published]], bool], *,
                           timeout: float = 30) -> list[Published]:
    """The topic's parts from the start, read again until `done` holds of them (or `timeout`: then as they are)."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(deadline - time.monotonic(), 1.0)
        parts = kafka_parts(await read_topic(bootstrap, topic, idle_s=1.0, timeout=left))
        if done(parts) or time.monotonic() >= deadline:
            return parts


def partition_of(key: bytes | str | Any, partitions: int) -> int:
    """The partition a key (bytes, or an id written as event_row writes it) falls on."""
    raw = key if isinstance(key, bytes) else str(key).encode()
    return key_partition(raw, list(range(partitions)))


def _json(value: Any) -> dict[str, str]:
    return json.loads(value) if isinstance(value, str) else dict(value)
