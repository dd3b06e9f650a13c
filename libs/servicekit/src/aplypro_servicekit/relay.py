"""Publishes outbox rows to Kafka in id order, in batches, and deletes them once the broker acked.

At most one relay of a schema publishes at any instant:
* it leads only while it holds the relay lock (`leadership.py`), and takes a lease only in a transaction
  that proves its leader epoch, so a relay that lost the lock unknowingly can lease nothing more;
* a new leader never touches a live lease of another epoch: it waits until that lease is deleted (the
  old leader finished) or expired, and only then leases, from the oldest row, so per-key order holds;
* a lease's publish is bounded (SEND_WITHIN_S, plus the producer's request timeout for what is in
  flight), well inside LEASE_SECONDS: a fenced leader has stopped publishing before its lease can end;
* a stopping relay drains under its lock, then unlocks.

While the broker takes one lease's messages, the relay leases the next rows (never those in flight) so the
database round trips hide behind the send; the next lease is sent only after the previous one was acked in
full, and dropped (left to be leased again, in order) if that send failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from base64 import b64decode
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aiokafka.partitioner import DefaultPartitioner

from . import tracing
from .key_partition import key_partition
from .leadership import Leadership, NotLeader, elect
from .metrics import RELAY_LEADING, RELAY_PARKED, RELAY_PUBLISHED
from .relay_send import BatchProducer, Message, Parked, send_in_batches

__all__ = ["LEASE_SECONDS", "Message", "OutboxRelay", "send_in_batches"]

log = structlog.get_logger(__name__)

# A lease outlasts anything its relay may still publish: the send must finish within SEND_WITHIN_S of
# the lease request, and what the producer still holds then is delivered or failed within two request
# timeouts (KAFKA_REQUEST_TIMEOUT_MS: waiting, then in flight): 12 + 2 × 5 = 22 s < 30 s. The price: a
# relay that dies (SIGKILL, crash) holding a lease delays its successor by up to LEASE_SECONDS; a relay
# stopped cleanly deletes its leases, and one that dies while idle holds none, so takeover is immediate.
LEASE_SECONDS = 30
SEND_WITHIN_S = 12.0
KAFKA_REQUEST_TIMEOUT_MS = 5000
STATEMENT_TIMEOUT_S = 10.0  # a lease or delete statement stuck longer is a failed batch, tried again
MAX_ROWS_PER_LEASE = 1000  # rows are transactions: one to thousands of messages each
# Between two looks at an outbox found empty. Every commit that writes to it NOTIFYs the relay, so this only bounds
# what no NOTIFY announces: a dead relay's lease expiring, or a previous leader deleting the lease it was still
# sending (test_relay_fencing.py), after which the new leader resumes. Each look is a transaction, and five relays
# looking five times a second were about a third of an idle service's CPU.
IDLE_WAIT_S = 1.0
PARTITION_CACHE_SIZE = 200_000

# The oldest rows (about $2 messages, at least one row) but those of the lease in flight ($6), unless a live
# lease of another epoch exists: a previous leader may still be publishing, and leasing past its rows would
# break per-key order. This epoch's other leases are free to take: the relay holds at most the lease being
# sent and the next one, so any other is a failed attempt of its own, published again in order by the same
# producer.
_LEASE = (
    "UPDATE outbox_batch SET lease_token = $1, lease_epoch = $5, lease_until = now() + make_interval(secs => $3) "
    "WHERE id IN (SELECT id FROM (SELECT id, sum(size) OVER (ORDER BY id) - size AS before FROM outbox_batch "
    "                             WHERE $6::uuid IS NULL OR lease_token IS DISTINCT FROM $6 "
    "                             ORDER BY id LIMIT $4) AS oldest "
    "             WHERE before < $2) "
    "AND NOT EXISTS (SELECT 1 FROM outbox_batch WHERE lease_epoch IS DISTINCT FROM $5 AND lease_until >= now()) "
    "RETURNING id, size, payloads, envelopes"
)


@dataclass(frozen=True)
class Lease:
    """Rows leased under one token, in id order, and when the lease was requested (its send deadline)."""

    token: uuid.UUID
    epoch: int
    requested: float
    rows: list[Any]
    messages: int


class OutboxRelay:
    """Standby until elected, then the only publisher of its schema's outbox until stopped or fenced."""

    def __init__(
        self, pool: asyncpg.Pool, producer: BatchProducer, schema: str, *, batch_size: int = 1000,
        idle_wait: float = IDLE_WAIT_S,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._idle_wait = idle_wait
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._drain_seconds = 0.0
        self._partitioner = DefaultPartitioner()  # the same key → partition mapping as a plain send
        self._partitions: dict[str, list[int]] = {}
        self._partition_of: dict[tuple[str, bytes], int] = {}
        self.published = 0
        self.parked = 0
        self.leading = False
        self.last_progress = time.monotonic()

    def wake(self, *_: Any) -> None:
        self._wake.set()

    def stop(self, drain_seconds: float) -> None:
        """Ask `run` to publish what is left (for at most `drain_seconds`) under the lock, then return."""
        self._drain_seconds = drain_seconds
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            leadership = await self._elect()
            if leadership is None:
                return
            try:
                self.leading = True
                RELAY_LEADING.set(1)
                await self._lead(leadership)
            finally:
                self.leading = False
                RELAY_LEADING.set(0)
                await leadership.release()

    async def _elect(self) -> Leadership | None:
        """Wait for the lock (standby), unless asked to stop first."""
        election = asyncio.create_task(elect(self._pool, self._schema, self.wake))
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({election, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not election.done():
                election.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await election
        return None if election.cancelled() else election.result()

    async def _lead(self, leadership: Leadership) -> None:
        watch = asyncio.create_task(self._watch(leadership))
        try:
            while not watch.done():
                if self._stopping.is_set():
                    await self._drain(leadership, watch)
                    return
                # Cleared before the leases, not when pausing: a NOTIFY of rows committed after the last lease
                # read them (while it was being sent) still wakes the pause below.
                self._wake.clear()
                try:
                    caught_up = await self.publish_batches(leadership.epoch, watch)
                except NotLeader:
                    break
                except Exception as exc:  # database or broker briefly down: still the leader, try again
                    log.error("relay_batch_failed", error=type(exc).__name__, detail=str(exc)[:200])
                    self._wake.clear()  # a second apart, whatever was written meanwhile
                    await self._pause(1.0, watch)
                    continue
                if caught_up:
                    await self._pause(self._idle_wait, watch)
            log.warning("relay_fenced", epoch=leadership.epoch)  # standby again
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def _watch(self, leadership: Leadership) -> None:
        await leadership.watch()
        self._wake.set()

    async def _pause(self, seconds: float, watch: asyncio.Task[None]) -> None:
        """Wait for a NOTIFY (or one received since the caller cleared the flag), a stop, a lost lock, or `seconds`."""
        if self._stopping.is_set() or watch.done():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _drain(self, leadership: Leadership, watch: asyncio.Task[None]) -> None:
        """Publish what is left, a whole batch at a time, until empty or out of time; still leading."""
        deadline = time.monotonic() + self._drain_seconds
        while not watch.done() and time.monotonic() < deadline:
            try:
                if not await self.publish_batch(leadership.epoch):
                    return
            except Exception as exc:  # the next leader publishes the rest
                log.error("relay_drain_failed", error=type(exc).__name__, detail=str(exc)[:200])
                return

    async def publish_batch(self, epoch: int) -> int:
        """Lease the oldest rows under `epoch`, publish them, delete them; returns the messages handled."""
        lease = await self._lease(epoch, None)
        if lease is None:
            return 0
        return await self._finish(lease, await self._publish(lease))

    async def publish_batches(self, epoch: int, watch: asyncio.Task[None] | None = None) -> bool:
        """Publish leases one after the other, each leased while the previous one is being sent, until a
        lease is not full (True: caught up), a stop is asked or `watch` ended (False: look again)."""
        lease = await self._lease(epoch, None)
        while lease is not None:
            more = self._full(lease) and not self._stopping.is_set() and not (watch and watch.done())
            sending = asyncio.create_task(self._publish(lease))
            leasing = asyncio.create_task(self._lease(epoch, lease.token)) if more else None
            try:
                parked = await asyncio.shield(sending)
            except BaseException:
                # Not acked in full (or cancelled): the next lease must not overtake it, nor be sent at all.
                await _cancel(sending, leasing)
                raise
            try:
                following = await leasing if leasing is not None else None
            except BaseException:
                await _cancel(leasing)
                await self._finish(lease, parked)  # published: delete it whether or not this relay still leads
                raise
            await self._finish(lease, parked)
            if leasing is None:
                return not self._full(lease)  # a full lease but a stop or a lost lock: look again first
            if following is None:
                return True
            lease = following
        return True

    def _full(self, lease: Lease) -> bool:
        return lease.messages >= self._batch_size or len(lease.rows) >= MAX_ROWS_PER_LEASE

    async def _lease(self, epoch: int, in_flight: uuid.UUID | None) -> Lease | None:
        """The oldest rows but those of the lease `in_flight`, leased under `epoch` (NotLeader: fenced)."""
        token = uuid.uuid4()
        requested = time.monotonic()  # the lease ends LEASE_SECONDS after its transaction began, or later
        async with self._pool.acquire() as conn, conn.transaction():
            # Leadership proven in the lease's transaction: an election waits for this share lock, and
            # once it raised the epoch this finds no row.
            if not await conn.fetchval("SELECT true FROM relay_leader WHERE epoch = $1 FOR SHARE", epoch,
                                       timeout=STATEMENT_TIMEOUT_S):
                raise NotLeader(epoch)
            rows = await conn.fetch(_LEASE, token, self._batch_size, LEASE_SECONDS, MAX_ROWS_PER_LEASE, epoch,
                                    in_flight, timeout=STATEMENT_TIMEOUT_S)
        if not rows:
            return None
        rows = sorted(rows, key=lambda r: r["id"])
        return Lease(token, epoch, requested, rows, sum(r["size"] for r in rows))

    async def _publish(self, lease: Lease) -> list[Parked]:
        """Send the lease's messages within SEND_WITHIN_S of its request; returns the ones parked."""
        # Tracing on: each message goes out under a producer span, child of the context its row kept.
        messages, spans = tracing.publishing(_messages(lease.rows))
        budget = lease.requested + SEND_WITHIN_S - time.monotonic()
        try:
            parked = await asyncio.wait_for(self._send(messages), max(budget, 0.001))
        except BaseException as exc:
            tracing.end_spans(spans, type(exc).__name__)
            raise
        tracing.end_spans(spans)
        return parked

    async def _finish(self, lease: Lease, parked: list[Parked]) -> int:
        """Delete the published rows (and keep the parked messages); returns the messages handled."""
        async with self._pool.acquire() as conn, conn.transaction():
            # By the lease token (taken under this epoch): rows nobody else took since, whether or not this
            # relay still leads; refusing a fenced relay's finished publish would only make a duplicate.
            deleted = await conn.fetch(
                "DELETE FROM outbox_batch WHERE id = ANY($1) AND lease_token = $2 AND lease_epoch = $3 RETURNING id",
                [r["id"] for r in lease.rows], lease.token, lease.epoch, timeout=STATEMENT_TIMEOUT_S)
            if deleted and parked:
                await conn.executemany(
                    "INSERT INTO outbox_parked (topic, key, headers, payload, reason) VALUES ($1, $2, $3, $4, $5)",
                    [(m[0], m[1], json.dumps({k: v.decode(errors="replace") for k, v in m[3]}), m[2], reason)
                     for m, reason in parked], timeout=STATEMENT_TIMEOUT_S)
        self.published += lease.messages - len(parked)
        self.parked += len(parked)
        RELAY_PUBLISHED.inc(lease.messages - len(parked))
        RELAY_PARKED.inc(len(parked))
        self.last_progress = time.monotonic()
        return lease.messages

    def _partition(self, topic: str, key: bytes | None) -> int:
        """The partition of a plain `send` (murmur2 of the key), remembered: a key often comes back."""
        partitions = self._partitions[topic]
        if key is None:
            return int(self._partitioner(None, partitions, partitions))
        cached = self._partition_of.get((topic, key))
        if cached is None:
            if len(self._partition_of) > PARTITION_CACHE_SIZE:
                self._partition_of.clear()
            cached = self._partition_of[(topic, key)] = key_partition(key, partitions)
        return cached

    async def _send(self, messages: list[Message]) -> list[Parked]:
        for topic in {m[0] for m in messages} - self._partitions.keys():
            self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return await send_in_batches(self._producer, messages, self._partition)


async def _cancel(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel the tasks and wait until they ended: nothing of theirs runs on."""
    for task in tasks:
        if task is not None:
            task.cancel()
    for task in tasks:
        if task is not None:
            with contextlib.suppress(BaseException):
                await task


def _messages(rows: list[Any]) -> list[Message]:
    """The rows' messages in order (base64 keys back to bytes)."""
    return [(topic, None if key_b64 is None else b64decode(key_b64), payload,
             [(k, v.encode()) for k, v in header_map.items()])
            for row in rows
            for (topic, key_b64, header_map), payload in zip(json.loads(row["envelopes"]), row["payloads"],
                                                             strict=True)]
