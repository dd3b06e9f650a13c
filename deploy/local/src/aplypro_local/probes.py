"""Reads the pipeline's progress from each service's schema and the dead-letter topics' offsets."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer
from aplypro_contracts.topics import ALL_TOPICS, dead_letter_topic
from aplypro_servicekit.kafka_security import client_kwargs

# What holds a payment request back, as `aplypro-calculator status` counts it: the calculator's reasons of an
# open request, the gateway's (PaymentRequestHeld) of one handed over as ready.
_HELD = ("(CASE WHEN state IN ('pending', 'incomplete') THEN reasons WHEN state = 'ready' THEN gateway_reasons "
         "ELSE '{}'::text[] END)")

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
    # The DAs pfmp has learnt: its validation needs the schooling's DA (issue 10).
    "pfmp_decisions": "SELECT count(*) FROM pfmp.decisions WHERE kind = 'attribution'",
    "pfmp_ribs": "SELECT count(*) FROM pfmp.ribs_on_file",  # and a RIB for the establishment
    # What the calculator and the gateway must know before the director validates, so that a request is
    # never blocked for a fact still on its way (a DA, the student, a RIB) when the demo counts the reasons.
    "calculator_decisions": "SELECT count(*) FROM calculator.decisions WHERE attribution_version > 0",
    # The gateway's DA numbers (its NUMADM): a request read before its DA arrives is held, and the demo's file
    # stage would count it as blocked.
    "gateway_decisions": "SELECT count(*) FROM asp_gateway.attributive_decisions",
    "gateway_students": "SELECT count(*) FROM asp_gateway.students",
    "gateway_schoolings": "SELECT count(*) FROM asp_gateway.schoolings",
    "gateway_ribs": "SELECT count(*) FROM asp_gateway.ribs",
    # Sent: handed to the ASP in a payment file (upload recorded), whatever the ASP answered since; `ready`: in a
    # built file whose upload is not recorded yet.
    "requests_sent": "SELECT count(*) FROM asp_gateway.payment_requests WHERE state NOT IN ('pending', 'ready')",
    "sent_total_cents": "SELECT coalesce(sum(amount_cents), 0) FROM asp_gateway.payment_requests "
                        "WHERE state NOT IN ('pending', 'ready')",
    "requests_awaiting_asp": "SELECT count(*) FROM asp_gateway.payment_requests "
                             "WHERE state IN ('ready', 'sent', 'integrated')",
    # Held until the ASP integrates an earlier request of the student (§4.3): sent after an answer.
    "requests_awaiting_integration": "SELECT count(*) FROM asp_gateway.payment_requests WHERE state = 'pending' "
                                     "AND 'awaiting_asp_integration' = ANY(blocking_reasons)",
    # The ASP's answers as the calculator learnt them (PaymentRequestStateChanged).
    "requests_paid": "SELECT count(*) FROM calculator.payment_requests WHERE state = 'paid'",
    "requests_unpaid": "SELECT count(*) FROM calculator.payment_requests WHERE state = 'unpaid'",
    "requests_rejected": "SELECT count(*) FROM calculator.payment_requests WHERE state = 'rejected'",
    "requests_blocked": f"SELECT count(*) FROM calculator.payment_requests WHERE cardinality({_HELD}) > 0",
    "payment_files": "SELECT count(DISTINCT file_name) FROM asp_gateway.payment_requests WHERE file_name IS NOT NULL",
}


@dataclass
class Probe:
    database_url: str
    bootstrap: str
    schema_prefix: str = ""  # tests namespace every schema
    topic_namespace: str = ""

    async def figures(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Every figure, or only these (a progress check every half second at national volume should not count
        every table: each count scans one)."""
        conn = await asyncpg.connect(self.database_url)
        out: dict[str, int] = {}
        try:
            for name in names if names is not None else QUERIES:
                try:
                    sql = QUERIES[name].replace(" FROM ", f" FROM {self.schema_prefix}")
                    out[name] = int(await conn.fetchval(sql) or 0)
                except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError, asyncpg.UndefinedColumnError):
                    out[name] = 0
        finally:
            await conn.close()
        return out

    async def blocked_by_reason(self) -> dict[tuple[str, str], int]:
        """Blocked payment requests per (reason, service that decided it): one request may count under
        several reasons, as every failed check is recorded."""
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                f"SELECT unnest(reasons) AS reason, 'calculator' AS owner FROM {self.schema_prefix}calculator."
                "payment_requests WHERE state IN ('pending', 'incomplete') UNION ALL "
                f"SELECT unnest(gateway_reasons), 'asp-gateway' FROM {self.schema_prefix}calculator."
                "payment_requests WHERE state = 'ready'")
        finally:
            await conn.close()
        return dict(Counter((r["reason"], r["owner"]) for r in rows))

    async def dead_letters(self, idle_s: float = 1.5) -> int:
        """Messages in every dead-letter topic, counted by reading them (end offsets are not record
        counts on every broker: the embedded one reports batches)."""
        topics = [dead_letter_topic(self.topic_namespace + t) for t in ALL_TOPICS]
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None, **client_kwargs())
        await consumer.start()
        try:
            existing = set(await consumer.topics())
            wanted = [t for t in topics if t in existing]
            if not wanted:
                return 0
            consumer.subscribe(wanted)
            count, last = 0, time.monotonic()
            while time.monotonic() - last < idle_s:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    count += len(records)
                    last = time.monotonic()
            return count
        finally:
            await consumer.stop()
