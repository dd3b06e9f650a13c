"""Operator use cases: exclusions (calculation.md §4) and the release of parked requests (§5.4).

Each runs in the caller's transaction and writes its events to the outbox, which the running service's
relay publishes (NOTIFY wakes it at commit).
"""

from __future__ import annotations

from dataclasses import dataclass

from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import write_outbox

from aplypro_calculator.adapters import postgres_requests
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.domain.exclusions import ExclusionRow
from aplypro_calculator.service_layer.events import Cause
from aplypro_calculator.service_layer.exclusion_events import change_exclusion
from aplypro_calculator.service_layer.handlers import Handlers


@dataclass(frozen=True)
class Repriced:
    changed: bool  # the exclusion list changed (added, or removed)
    pools: int  # pools recomputed
    events: int  # events written to the outbox


async def _recompute(conn: Connection, handlers: Handlers, keys: list[PoolKey]) -> int:
    out = await handlers.recompute_pools(conn, dict.fromkeys(keys, Cause.command()))
    await write_outbox(conn, out)
    return len(out)


async def add_exclusion(conn: Connection, handlers: Handlers, row: ExclusionRow) -> Repriced:
    """Add a row (ExclusionConflict under a whole-establishment row) and reprice the pools it reaches."""
    return await _repriced(conn, handlers, await change_exclusion(conn, row, excluded=True))


async def remove_exclusion(conn: Connection, handlers: Handlers, row: ExclusionRow) -> Repriced:
    return await _repriced(conn, handlers, await change_exclusion(conn, row, excluded=False))


async def _repriced(conn: Connection, handlers: Handlers, keys: list[PoolKey] | None) -> Repriced:
    if keys is None:
        return Repriced(False, 0, 0)
    return Repriced(True, len(keys), await _recompute(conn, handlers, keys))


@dataclass(frozen=True)
class Released:
    pools: int
    still_parked: int
    events: int


async def release_parked(conn: Connection, handlers: Handlers) -> Released:
    """Re-evaluate every open request held by `negative_rectification` (with the switch on: released)."""
    keys = await postgres_requests.pools_with_open_requests(conn, "negative_rectification")
    events = await _recompute(conn, handlers, keys)
    return Released(len(keys), await postgres_requests.count_open(conn, "negative_rectification"), events)
