"""A service refuses to start when one of its topics has another partition count than APLYPRO_TOPIC_PARTITIONS.

Topics are keyed by student and the consumers rely on a student being on the same partition number of every
topic: one instance (range assignment) and one lane (consumer.split_in_lanes) get all of its events, and the
asp-gateway's groups of moves are built over that count. A topic created with another count, or grown since,
sends a student's events to two partition numbers: two transactions could each miss the other's write (a PFMP
without its request, silently unpaid) and a group could overtake a student's own later move. Topics another
system owns the partitioning of (a ministry's inbound schoolings) are left out by the spec.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient

from .kafka_security import KafkaSecurity, client_kwargs


class PartitionCountMismatch(RuntimeError):
    """Topics whose partition count is not the setting's; the message names them (topic names only)."""


async def partition_counts(bootstrap: str, topics: Iterable[str],
                           security: KafkaSecurity | None = None) -> dict[str, int]:
    """Each existing topic's partition count, from the broker's metadata (a missing topic is left out: asked
    for by name, a broker that creates topics on demand would create it, with its own default count)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_kwargs(security))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = sorted(set(topics) & existing)
        described = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"] and t["partitions"]}


def check_counts(counts: Mapping[str, int], expected: int) -> None:
    """Raise PartitionCountMismatch naming every topic whose count is not `expected`."""
    wrong = {topic: count for topic, count in sorted(counts.items()) if count != expected}
    if wrong:
        listed = ", ".join(f"{topic} has {count}" for topic, count in wrong.items())
        raise PartitionCountMismatch(
            f"APLYPRO_TOPIC_PARTITIONS is {expected} but {listed}: every topic keyed by student must have the "
            "same partition count (a student's events on one partition number of each), so the service will "
            "not start; set APLYPRO_TOPIC_PARTITIONS to the topics' count, or recreate the topics")


async def require_partitions(bootstrap: str, topics: Iterable[str], expected: int,
                             security: KafkaSecurity | None = None, *, wait_s: float = 30.0) -> None:
    """Every topic found with `expected` partitions, or PartitionCountMismatch. A topic not found yet (created by
    another service or the topics Job a moment ago, or its metadata not ready) is asked again for `wait_s`: a
    topic left unchecked is one a broker that creates topics on demand would later create with its own count."""
    wanted = set(topics)
    deadline = time.monotonic() + wait_s
    while True:
        counts = await partition_counts(bootstrap, wanted, security)
        check_counts(counts, expected)
        missing = sorted(wanted - counts.keys())
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise PartitionCountMismatch(
                f"topics not found with their partitions after {wait_s:.0f} s: {', '.join(missing)}; create them "
                f"with {expected} partitions (APLYPRO_TOPIC_PARTITIONS) before the service starts")
        await asyncio.sleep(1.0)
