"""Reads the pipeline's progress from each service's schema and the dead-letter topics' offsets."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aplypro_contracts.topics import ALL_TOPICS, dead_letter_topic

# One query per figure; a schema not yet migrated reads as 0.
QUERIES = {
    "students": "SELECT count(*) FROM students.students",
    "ribs": "SELECT count(*) FROM students.ribs",
    "pfmp_schoolings": "SELECT count(*) FROM pfmp.schoolings",
    "pfmps": "SELECT count(*) FROM pfmp.pfmps",
    "pfmps_validated": "SELECT count(*) FROM pfmp.pfmps WHERE status = 'validated'",
    "amounts": "SELECT count(*) FROM calculator.pfmps WHERE amount_cents IS NOT NULL",
    "amounts_total_cents": "SELECT coalesce(sum(amount_cents), 0) FROM calculator.pfmps",
    "payment_requests": "SELECT count(*) FROM calculator.payment_requests",
    "decisions": "SELECT count(*) FROM documents.documents WHERE kind = 'attribution'",
    "requests_sent": "SELECT count(*) FROM asp_gateway.payment_requests WHERE state = 'sent'",
    "payment_files": "SELECT count(DISTINCT file_name) FROM asp_gateway.payment_requests WHERE file_name IS NOT NULL",
}


@dataclass
class Probe:
    database_url: str
    bootstrap: str
    schema_prefix: str = ""  # tests namespace every schema
    topic_namespace: str = ""

    async def figures(self) -> dict[str, int]:
        conn = await asyncpg.connect(self.database_url)
        out: dict[str, int] = {}
        try:
            for name, sql in QUERIES.items():
                try:
                    sql = sql.replace(" FROM ", f" FROM {self.schema_prefix}")
                    out[name] = int(await conn.fetchval(sql) or 0)
                except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError, asyncpg.UndefinedColumnError):
                    out[name] = 0
        finally:
            await conn.close()
        return out

    async def dead_letters(self) -> int:
        """Messages in every dead-letter topic (sum of end offsets)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            await consumer.topics()  # loads the metadata of every topic
            partitions = []
            for topic in ALL_TOPICS:
                for partition in consumer.partitions_for_topic(dead_letter_topic(self.topic_namespace + topic)) or set():
                    partitions.append(TopicPartition(dead_letter_topic(self.topic_namespace + topic), partition))
            if not partitions:
                return 0
            ends = await consumer.end_offsets(partitions)
            return int(sum(ends.values()))
        finally:
            await consumer.stop()
