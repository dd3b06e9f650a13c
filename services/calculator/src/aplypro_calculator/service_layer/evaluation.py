"""Evaluating the requests whose cool-down has passed (lifecycles.md §5), in batches.

The request of a validated PFMP is created `pending` and is due at the next 00:00 Europe/Paris after the
validation. At due time this evaluator recomputes the request's whole pool, which evaluates every due
request of the pool at once against one allocation, and writes the same events as an immediate evaluation
(PaymentRequested when ready, PaymentRequestBlocked otherwise) through the outbox.

One transaction per batch. Several evaluators may run (one per calculator instance): requests are claimed
with FOR UPDATE SKIP LOCKED, then their pools are locked whole without waiting; a pool that has a writer
at that moment (the consumer, another evaluator) is left to the next pass, or is evaluated by that writer,
since any recomputation of a pool evaluates its due requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import write_outbox

from aplypro_calculator.adapters import cross_student_lock, postgres_requests
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.service_layer.events import Cause
from aplypro_calculator.service_layer.handlers import Handlers


@dataclass(frozen=True)
class Evaluated:
    requests: int = 0  # due requests evaluated
    ready: int = 0
    blocked: int = 0  # incomplete, or pending with a parking reason
    skipped: int = 0  # due, but their pool had another writer: left to the next pass
    pools: int = 0
    events: int = 0

    def __add__(self, other: Evaluated) -> Evaluated:
        # `skipped` is the last batch's: skipped requests are claimed again by the next batch.
        return Evaluated(self.requests + other.requests, self.ready + other.ready, self.blocked + other.blocked,
                         other.skipped, self.pools + other.pools, self.events + other.events)


async def evaluate_due_batch(conn: Connection, handlers: Handlers, *, now: datetime,
                             limit: int) -> tuple[Evaluated, int]:
    """One batch in the caller's transaction; returns what was done and how many requests were claimed."""
    if not await cross_student_lock.try_lock_shared(conn):
        return Evaluated(), 0  # an exclusion or a merge is changing: the next pass evaluates
    due = await postgres_requests.claim_due_requests(conn, now, limit)
    if not due:
        return Evaluated(), 0
    whole = await postgres_requests.lock_whole_pools(conn, list(dict.fromkeys(d.pool for d in due)))
    causes: dict[PoolKey, Cause] = {}
    for d in due:  # oldest first: a pool's events continue the flow of its oldest due request
        if d.pool not in whole or d.pool in causes:
            continue
        if d.cause_event_id is not None and d.correlation_id is not None:
            causes[d.pool] = Cause(d.cause_event_id, d.correlation_id)
        else:  # created before the requests kept their cause
            causes[d.pool] = Cause.command()
    # The whole pools are evaluated: their due requests this batch did not claim too.
    targets = await postgres_requests.due_in_pools(conn, list(causes), now)
    out = await handlers.recompute_pools(conn, causes, now=now)
    await write_outbox(conn, out)
    states = list((await postgres_requests.awaiting(conn, targets)).values())
    ready = states.count("ready")
    evaluated = len(states) - states.count("awaiting")
    skipped = sum(1 for d in due if d.pool not in whole)
    return Evaluated(evaluated, ready, evaluated - ready, skipped, len(causes), len(out)), len(due)


async def evaluate_due(pool: asyncpg.Pool, handlers: Handlers, *, now: datetime,
                       batch_size: int) -> Evaluated:
    """Evaluate every request due at `now`, one transaction per batch, until none is left or none moves."""
    total = Evaluated()
    while True:
        async with pool.acquire() as conn, conn.transaction():
            done, claimed = await evaluate_due_batch(conn, handlers, now=now, limit=batch_size)
        total += done
        if claimed < batch_size or done.requests == 0:
            return total
