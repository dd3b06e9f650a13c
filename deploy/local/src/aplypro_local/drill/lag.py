"""Consumer lag of the drill's groups: messages on the topics that no group member has committed yet.

Quiescence needs it: an empty outbox and a still figure can also mean a consumer group is rebalancing
with its input still unread. The embedded broker does not answer aiokafka's admin group calls, so the
groups are listed here (each service's `Subscription`s) and read with `committed()`, which fetches a
group's offsets without joining it.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aplypro_contracts.topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
    STUDENTS_RIBS,
)
from aplypro_servicekit.kafka_security import client_kwargs

GROUPS = {
    "pfmp.students-projection": (STUDENTS_EVENTS,),
    "pfmp.payment-facts": (CALCULATOR_EVENTS, ASP_EVENTS, DOCUMENTS_EVENTS),
    "calculator.pricing": (STUDENTS_EVENTS, PFMP_EVENTS, ASP_EVENTS, STUDENTS_RIBS, DOCUMENTS_EVENTS),
    "documents.decisions": (STUDENTS_EVENTS, STUDENTS_RIBS, PFMP_EVENTS, CALCULATOR_EVENTS),
    "asp-gateway.students": (STUDENTS_EVENTS,),
    "asp-gateway.ribs": (STUDENTS_RIBS,),
    "asp-gateway.calculator": (CALCULATOR_EVENTS,),
    "asp-gateway.documents": (DOCUMENTS_EVENTS,),
    # money facts: retractions and unarchivable_rib (a RIB is free again once the students service read the answer)
    "students.money-facts": (CALCULATOR_EVENTS, DOCUMENTS_EVENTS, ASP_EVENTS),
}


async def lag_by_group(bootstrap: str, namespace: str) -> dict[str, int]:
    """Per consumer group of the drill: sum of (end offset − committed offset) over its partitions."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **client_kwargs())
    await probe.start()
    try:
        existing = await probe.topics()
        ends: dict[TopicPartition, int] = {}
        for topic in {namespace + t for topics in GROUPS.values() for t in topics} & existing:
            partitions = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic) or ())]
            ends.update(await probe.end_offsets(partitions))
    finally:
        await probe.stop()
    lags: dict[str, int] = {}
    for group, topics in GROUPS.items():
        reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=namespace + group, enable_auto_commit=False,
                                  **client_kwargs())
        await reader.start()
        try:
            lags[group] = 0
            for tp, end in ends.items():
                if tp.topic.removeprefix(namespace) in topics:
                    lags[group] += max(0, end - (await reader.committed(tp) or 0))
        finally:
            await reader.stop()
    return lags


async def total_lag(bootstrap: str, namespace: str) -> int:
    """Sum over the drill's consumer groups of (end offset − committed offset) of every partition."""
    return sum((await lag_by_group(bootstrap, namespace)).values())
