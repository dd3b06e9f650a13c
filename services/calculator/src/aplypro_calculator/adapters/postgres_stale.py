"""Stale events: the rule that decides one, and the counter of those dropped (a table, by event type)."""

from __future__ import annotations

from collections import Counter

import structlog
from aplypro_servicekit.db import Connection

log = structlog.get_logger(__name__)


def is_newer(version: int, held: int | None) -> bool:
    """Apply an event only if it is newer than what is held. Version 0 (a v1 event, unversioned) is older
    than any versioned state, and follows a version-0 state as before the upgrade: the last one read wins."""
    return held is None or version > held or version == held == 0


async def count_stale(conn: Connection, dropped: Counter[str]) -> None:
    """Add the dropped events to the counters, in the caller's transaction; log the counts (no ids, no data)."""
    dropped = +dropped  # without the zero counts
    if not dropped:
        return
    await conn.execute(
        "INSERT INTO stale_events (event_type, dropped) SELECT * FROM unnest($1::text[], $2::bigint[]) "
        "ON CONFLICT (event_type) DO UPDATE SET dropped = stale_events.dropped + EXCLUDED.dropped",
        list(dropped), list(dropped.values()))
    for event_type, n in dropped.items():
        log.info("stale_events_dropped", event_type=event_type, count=n)
