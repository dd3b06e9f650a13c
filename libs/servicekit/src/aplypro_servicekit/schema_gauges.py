"""Gauges a service reads from its own schema when Prometheus scrapes (queue depths, requests per state).

The service names the gauge and gives the SQL; servicekit knows nothing of the domain. The query returns
one row per series: the label columns first, in the gauge's label order, then `value`. Read at scrape on
the ops connection, so every instance of a service reports the same figure (take max(), not sum()).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric


@dataclass(frozen=True)
class SchemaGauge:
    name: str
    documentation: str
    labels: tuple[str, ...]
    sql: str  # columns: the labels (text), then `value`


class SchemaGauges:
    """The collector of every SchemaGauge of this process, with the values of the last scrape."""

    def __init__(self) -> None:
        self.gauges: Sequence[SchemaGauge] = ()
        self.values: dict[str, list[tuple[list[str], float]]] = {}

    def update(self, gauge: SchemaGauge, rows: Sequence[Any]) -> None:
        self.values[gauge.name] = [([str(row[label]) for label in gauge.labels], float(row["value"]))
                                   for row in rows]

    def collect(self) -> Iterator[Metric]:
        for gauge in self.gauges:
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=list(gauge.labels))
            for labels, value in self.values.get(gauge.name, []):
                family.add_metric(labels, value)
            yield family


SCHEMA_GAUGES = SchemaGauges()
REGISTRY.register(SCHEMA_GAUGES)
