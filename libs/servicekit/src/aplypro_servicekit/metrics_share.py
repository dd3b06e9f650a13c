"""One `/metrics` for a service instance of several processes.

Each process counts in its own registry (no shared memory, no global switch to set before import).
The extra consumer workers and the relay child write a snapshot of theirs, as JSON, into a private
directory every few seconds (and when they stop); the main process, which serves the port, merges its
own registry and the snapshots, each sample labelled with the process it came from. A restarted child
starts its counters again from zero: Prometheus treats that as a counter reset (rate() is unaffected).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

log = structlog.get_logger(__name__)

SNAPSHOT_EVERY_S = 5.0  # well under a scrape interval: a child's counters are at most this late
MAIN = "main"


def _dump(registry: CollectorRegistry) -> list[Any]:
    return [[m.name, m.documentation, m.type, m.unit, [[s.name, s.labels, s.value] for s in m.samples]]
            for m in registry.collect()]


def write_snapshot(directory: str, process: str, registry: CollectorRegistry = REGISTRY) -> None:
    """Write this process's metrics atomically (a reader never sees half a file)."""
    path = Path(directory) / f"{process}.json"
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(_dump(registry)))
    os.replace(partial, path)


async def share_metrics(directory: str, process: str,
                        refresh: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run in a child process: snapshot its metrics until cancelled, and once more then; `refresh`
    updates its gauges read on demand (a worker's consumer lag) before each snapshot."""
    try:
        while True:
            if refresh is not None:
                try:
                    await refresh()
                except Exception as exc:  # a gauge left as it was is better than no snapshot
                    log.warning("metrics_refresh_failed", error=type(exc).__name__)
            try:
                write_snapshot(directory, process)
            except OSError as exc:  # the directory went away with the main process: nothing to share
                log.warning("metrics_snapshot_failed", error=type(exc).__name__)
            await asyncio.sleep(SNAPSHOT_EVERY_S)
    finally:
        try:
            write_snapshot(directory, process)
        except OSError:
            pass


def _snapshots(directory: str | None) -> Iterable[tuple[str, list[Metric]]]:
    if not directory:
        return
    for path in sorted(Path(directory).glob("*.json")):
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced, or gone: the next scrape has it
        families = []
        for name, documentation, kind, unit, samples in raw:
            family = Metric(name, documentation, kind, unit)
            family.samples = [Sample(n, labels, value) for n, labels, value in samples]
            families.append(family)
        yield path.stem, families


class _Merged:
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def merged_exposition(directory: str | None, registry: CollectorRegistry = REGISTRY) -> bytes:
    """The text exposition of this process's metrics and its children's snapshots, by `process` label."""
    merged: dict[str, Metric] = {}
    for process, families in [(MAIN, list(registry.collect())), *_snapshots(directory)]:
        for family in families:
            target = merged.setdefault(family.name, Metric(family.name, family.documentation, family.type,
                                                           family.unit))
            if target.type != family.type:
                continue
            target.samples += [s._replace(labels={**s.labels, "process": process}) for s in family.samples]
    out = CollectorRegistry(auto_describe=False)
    out.register(_Merged(merged.values()))
    return generate_latest(out)
