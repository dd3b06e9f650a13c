"""The service's Prometheus metrics, each counted where it is measured (consumer, inbox, relay).

Every process (main, extra consumer workers, relay child) counts into its own default registry; the
main process serves them all (`metrics_share.py`). Labels are bounded: consumer names, contract event
types, stable reason codes, never ids or personal data.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric

disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double the output for no use on a dashboard

UNPARSED = "unparsed"  # the event type of a record that is not a valid event (poison)

EVENTS_CONSUMED = Counter(
    "aplypro_events_consumed", "Events processed and committed, per consumer and type.", ["consumer", "event_type"])
EVENTS_DEAD_LETTERED = Counter(
    "aplypro_events_dead_lettered", "Records sent to the dead-letter topic, per consumer, type and reason code.",
    ["consumer", "event_type", "reason"])
EVENTS_DUPLICATE = Counter(
    "aplypro_events_duplicate", "Redelivered events skipped by the inbox (already processed), per type.",
    ["consumer", "event_type"])
BATCH_SECONDS = Histogram(
    "aplypro_batch_seconds", "Time to process one Kafka batch (all lanes, retries included), per consumer.",
    ["consumer"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
BATCH_RECORDS = Histogram(
    "aplypro_batch_records", "Records in one Kafka batch, per consumer.", ["consumer"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 5000))
RELAY_PUBLISHED = Counter("aplypro_relay_published", "Outbox messages the relay published (broker acked).")
RELAY_PARKED = Counter("aplypro_relay_parked", "Outbox messages the relay parked (too large for the broker).")
RELAY_LEADING = Gauge("aplypro_relay_leading", "1 while this process's relay holds the relay lock.")
# Read from the service's schema at scrape: the same in every instance of a service (max(), not sum()).
OUTBOX_DEPTH = Gauge("aplypro_outbox_depth", "Messages in the outbox not yet published (read at scrape).")
OUTBOX_OLDEST_AGE = Gauge(
    "aplypro_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row, 0 when empty (read at scrape).")
CONSUMER_PARTITIONS = Gauge(
    "aplypro_consumer_assigned_partitions", "Partitions assigned to this process, per consumer group.", ["group"])
CONSUMER_LAG = Gauge(
    "aplypro_consumer_lag", "Records behind the partition's end (last fetched high watermark), per partition.",
    ["group", "topic", "partition"])


class StaleDropped:
    """Events dropped as older than the state held, per type: the services' `stale_events` table
    (event_type, dropped), read at scrape. Counted in the same transaction as the drop, so exact, and
    kept across restarts; per schema like the outbox gauges."""

    def __init__(self) -> None:
        self.by_type: dict[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("aplypro_events_stale_dropped", "Events dropped as stale (older than the "
                                     "state held), per type; from the schema's stale_events.", labels=["event_type"])
        for event_type, dropped in sorted(self.by_type.items()):
            family.add_metric([event_type], dropped)
        yield family


STALE_DROPPED = StaleDropped()
REGISTRY.register(STALE_DROPPED)


def count_by_type(metric: Counter, consumer: str, event_types: list[str]) -> None:
    for event_type, count in Tally(event_types).items():
        metric.labels(consumer, event_type).inc(count)
