"""The service's Prometheus metrics, each counted where it is measured (consumer, inbox, relay).

Every process (main, extra consumer workers, relay child) counts into its own default registry; the
main process serves them all (`metrics_share.py`). Labels are bounded: consumer names, contract event
types, stable reason codes, never ids or personal data.
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

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
EVENTS_STALE = Counter(
    "aplypro_events_stale_dropped", "Events dropped as older than the state held, per type.", ["event_type"])
BATCH_SECONDS = Histogram(
    "aplypro_batch_seconds", "Time to process one Kafka batch (all lanes, retries included), per consumer.",
    ["consumer"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
BATCH_RECORDS = Histogram(
    "aplypro_batch_records", "Records in one Kafka batch, per consumer.", ["consumer"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 5000))
RELAY_PUBLISHED = Counter("aplypro_relay_published", "Outbox messages the relay published (broker acked).")
RELAY_PARKED = Counter("aplypro_relay_parked", "Outbox messages the relay parked (too large for the broker).")
RELAY_LEADING = Gauge("aplypro_relay_leading", "1 while this process's relay holds the relay lock.")
OUTBOX_DEPTH = Gauge("aplypro_outbox_depth", "Messages in the outbox not yet published (read at scrape).")
OUTBOX_OLDEST_AGE = Gauge(
    "aplypro_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row, 0 when empty (read at scrape).")
CONSUMER_PARTITIONS = Gauge(
    "aplypro_consumer_assigned_partitions", "Partitions assigned to this process, per consumer group.", ["group"])
CONSUMER_LAG = Gauge(
    "aplypro_consumer_lag", "Records behind the partition's end (last fetched high watermark), per partition.",
    ["group", "topic", "partition"])


def count_stale_dropped(by_type: Tally[str] | dict[str, int]) -> None:
    """For services: events dropped as stale, counted by type (call it where they are dropped)."""
    for event_type, count in by_type.items():
        if count:
            EVENTS_STALE.labels(event_type).inc(count)


def count_by_type(metric: Counter, consumer: str, event_types: list[str]) -> None:
    for event_type, count in Tally(event_types).items():
        metric.labels(consumer, event_type).inc(count)
