"""A batch consumer: decode, dead-letter poison, skip duplicates, apply handlers, commit, then ack.

One PostgreSQL transaction per Kafka batch holds the effects, the inbox rows and the outgoing events
(dead letters included), so the offset is committed only after the database commit. Transient errors
(`is_transient`) are retried with backoff and then nacked, never dead-lettered; a dead-lettered event's
inbox row says so, so a replay of its dead letter (`aplypro dlt replay`) is processed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import asyncpg
import structlog
from aplypro_contracts import ContractError, Envelope, Registry

from . import tracing
from .db import Connection
from .deadletter import SourceRecord, dead_letter_row, is_transient
from .inbox import Claim, EventIdReused, body_hash, claim, mark_dead_lettered
from .metrics import (
    BATCH_RECORDS,
    BATCH_SECONDS,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATE,
    UNPARSED,
    count_by_type,
)
from .outbox import OutboxRow, write_outbox

log = structlog.get_logger(__name__)

EventHandler = Callable[[Connection, Any], Awaitable[None]]
# Optional fast path: the whole batch at once (set-based SQL); per-event handlers remain the fallback.
BatchHandler = Callable[[Connection, list[Any]], Awaitable[None]]


def in_batch_order(handlers: Mapping[str, EventHandler]) -> BatchHandler:
    """The per-event handlers as a batch handler: each event in batch order, under the batch's one savepoint.

    It saves the savepoint (and its release) the per-event path wraps around every event: two round trips
    and a subtransaction each, which past 64 in a transaction also slow every other session's snapshots.
    If an event breaks a rule, the batch is undone and replayed event by event with their savepoints, as
    a transient error already replays it whole, so handlers must only have effects in the database.
    """

    async def apply(conn: Connection, events: list[Any]) -> None:
        for event in events:
            with tracing.handling(event.event_id):
                await handlers[event.event_type](conn, event)

    return apply


def through_parts(handlers: Mapping[str, EventHandler]) -> EventHandler:
    """The per-event handler of a message that stands for several events (its `parts()`, e.g. the asp-gateway's
    PaymentRequestsMoved): each part in order through its own type's handler, a part of a type with none skipped
    as its single event would be. The consumer gives the message one savepoint: a part that breaks a rule
    dead-letters the message whole, with that part's reason (a replay applies it again, part by part)."""

    async def apply(conn: Connection, event: Any) -> None:
        for part in event.parts():
            if (handler := handlers.get(part.event_type)) is not None:
                await handler(conn, part)

    return apply


class DeadLetter(Protocol):
    """Where a given-up message goes: by default `dead_letter_row` (`<topic>.dlt`); a consumer of another
    team's topic may answer on a topic that team reads (the students' inbound schoolings: `.rejected`)."""

    def __call__(self, record: SourceRecord, exc: BaseException, *, service: str, attempts: int,
                 consumer: str | None = None) -> OutboxRow: ...


def split_in_lanes(records: Sequence[Any], lanes: int) -> list[list[Any]]:
    """The records in at most `lanes` lists, each in batch order: records that share a partition number or a
    key are in the same one (see `EventConsumer.process_batch`); the groups so joined are dealt round the lanes,
    so two never share a lane while another lane is idle."""
    parent: dict[tuple[str, Any], tuple[str, Any]] = {}

    def root(node: tuple[str, Any]) -> tuple[str, Any]:
        while (up := parent.setdefault(node, node)) != node:
            parent[node] = parent.setdefault(up, up)  # path halving
            node = parent[node]
        return node

    for record in records:
        if record.key is not None:
            parent[root(("key", record.key))] = root(("partition", record.partition))
    lane_of: dict[tuple[str, Any], int] = {}  # each joined group's lane, dealt in order of first appearance
    dealt: dict[int, list[Any]] = {}
    for record in records:
        group = root(("partition", record.partition))
        lane = lane_of.setdefault(group, len(lane_of) % max(1, lanes))
        dealt.setdefault(lane, []).append(record)
    return list(dealt.values())


def to_source(record: Any) -> SourceRecord:
    return SourceRecord(
        topic=record.topic, partition=record.partition, offset=record.offset, key=record.key,
        value=record.value or b"", headers=tuple(record.headers or ()),
    )


class EventConsumer:
    """Processes batches of raw Kafka records for one consumer name (one inbox namespace)."""

    def __init__(
        self, *, name: str, service: str, pool: asyncpg.Pool, registry: Registry,
        handlers: Mapping[str, EventHandler], transient_attempts: int = 6, backoff_base: float = 0.5,
        batch_handler: BatchHandler | None = None, lanes: int = 1, dead_letter: DeadLetter = dead_letter_row,
        skip_headers: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.name = name
        self._service = service
        self._pool = pool
        self._registry = registry
        self._handlers = handlers
        self._batch_handler = batch_handler
        self._attempts = transient_attempts
        self._backoff = backoff_base
        self._lanes = max(1, lanes)
        self._dead_letter = dead_letter
        self._skip_headers = dict(skip_headers or {})
        self.processed = 0
        self.dead_lettered = 0
        self.last_progress = time.monotonic()

    async def process_batch(self, records: Sequence[Any]) -> None:
        """Split the batch into lanes by partition number and key, and run the lanes side by side.

        Records that share a partition number, or a key, stay in one lane, in batch order. Topics are keyed by
        student with one partition count, so a student is on the same partition number of every topic: its
        schooling, DA, PFMP and payment moves run in one transaction, in order (split by topic and partition,
        a PFMP's handler and its schooling's could each miss the other's uncommitted row: no request, silently
        unpaid). A message keyed by one student that carries others of its partition (the asp-gateway's
        PaymentRequestsMoved) stays before their later messages too. The key joins what a topic with another
        partition count would split. Each lane is its own transaction: while one waits on PostgreSQL the other
        computes. The batch is acked only when every lane committed; if one fails the whole batch is read
        again (the committed lanes' inbox rows make their events no-ops). An event keyed otherwise (an exclusion
        keyed by UAI) runs beside the students' it reaches, here or in another instance: its handler and theirs
        must make whichever commits second see the other's write (the calculator's exclusions: an advisory lock).
        """
        started = time.perf_counter()
        try:
            await self._process_lanes(records)
        finally:
            BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)
            BATCH_RECORDS.labels(self.name).observe(len(records))

    async def _process_lanes(self, records: Sequence[Any]) -> None:
        lanes = [[to_source(record) for record in lane] for lane in split_in_lanes(records, self._lanes)]
        if len(lanes) == 1:
            await self._process_lane(lanes[0])
            return
        results = await asyncio.gather(*(self._process_lane(lane) for lane in lanes),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _process_lane(self, sources: list[SourceRecord]) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                await self._process_once(sources, attempt)
                return
            except Exception as exc:
                if not is_transient(exc) or attempt == self._attempts:
                    raise  # nacked: the batch is read again, nothing is lost
                delay = min(self._backoff * 2 ** (attempt - 1), 15.0)
                log.warning("transient_error", consumer=self.name, attempt=attempt, delay_s=delay,
                            error=type(exc).__name__)
                await asyncio.sleep(delay)

    def _decode(self, source: SourceRecord) -> Envelope | ContractError:
        headers = dict(source.headers)
        try:
            return self._registry.parse(source.value, headers.get("event-type"), headers.get("schema-version"))
        except ContractError as exc:
            return exc

    async def _process_once(self, sources: list[SourceRecord], attempt: int) -> None:
        # Only the events this consumer needs, each with its inbox id.
        wanted = [(s, d, _inbox_id(s, d)) for s in sources
                  if s.replay_for(self._service, self.name) and not self._not_mine(s)
                  and self._wants(d := self._decode(s))]
        claims = [Claim(inbox_id, body_hash(s.value), s.position if s.replay_attempts() is not None else None)
                  for s, _, inbox_id in wanted]
        dead: list[OutboxRow] = []
        dead_ids: list[tuple[str, str]] = []  # claimed ids dead-lettered, with their position
        dead_types: list[str] = []  # the event type of each dead letter, in `dead`'s order
        duplicates: list[str] = []
        # Tracing on: a consumer span per event handled, ended once the transaction is over.
        with contextlib.ExitStack() as spans:
            async with self._pool.acquire() as conn, conn.transaction():
                fresh, reused = await claim(conn, self.name, claims)
                todo: list[tuple[SourceRecord, Envelope, str]] = []
                done: dict[str, str] = {}  # inbox id → body hash, of this batch
                for (source, event, inbox_id), (_, sha256, _) in zip(wanted, claims, strict=True):
                    if done.get(inbox_id) == sha256:
                        duplicates.append(_type_of(event))
                        continue  # a duplicate within the batch
                    if (inbox_id, sha256) in reused or inbox_id in done:  # done: with another body
                        # The stored row belongs to the other content: it is left as it is.
                        error = EventIdReused("event id already processed with a different body")
                        dead.append(self._dead_letter(source, error, service=self._service, attempts=attempt,
                                                      consumer=self.name))
                        dead_types.append(_type_of(event))
                    elif inbox_id not in fresh:
                        duplicates.append(_type_of(event))
                        continue  # a redelivery: already processed (or already dead-lettered)
                    elif isinstance(event, ContractError):
                        dead.append(self._dead_letter(source, event, service=self._service, attempts=attempt,
                                                      consumer=self.name))
                        dead_ids.append((inbox_id, source.position))
                        dead_types.append(UNPARSED)
                    else:
                        todo.append((source, event, inbox_id))
                    done.setdefault(inbox_id, sha256)
                handled = [(s, e) for s, e, _ in todo]
                spans.enter_context(tracing.consuming(self.name, handled))
                await tracing.remember(conn, handled)
                failed = await self._apply(conn, todo, attempt)
                dead += [row for row, _ in failed]
                dead_ids += [ids for _, ids in failed]
                await mark_dead_lettered(conn, self.name, dead_ids)
                await write_outbox(conn, dead)
        # Counted once committed: a batch tried again must not count twice.
        failed_ids = {inbox_id for _, (inbox_id, _) in failed}
        dead_types += [event.event_type for _, event, inbox_id in todo if inbox_id in failed_ids]
        count_by_type(EVENTS_CONSUMED, self.name,
                      [event.event_type for _, event, inbox_id in todo if inbox_id not in failed_ids])
        count_by_type(EVENTS_DUPLICATE, self.name, duplicates)
        for row, event_type in zip(dead, dead_types, strict=True):
            code = row.headers.get("dlt-reason-code") or row.headers.get("reason-code", "")  # a DLT or a rejection
            EVENTS_DEAD_LETTERED.labels(self.name, event_type, code).inc()
        self.processed += len(todo) - len(failed)
        self.dead_lettered += len(dead)
        self.last_progress = time.monotonic()

    async def _apply(self, conn: Connection, todo: list[tuple[SourceRecord, Envelope, str]],
                     attempt: int) -> list[tuple[OutboxRow, tuple[str, str]]]:
        """The batch handler on the whole batch; if it breaks a rule, event by event to find the culprit.

        Returns the dead letters of the events that broke a rule (a too-large outgoing event included:
        `RecordTooLarge` from the handler's `write_outbox`), each with its inbox id and position.
        """
        if self._batch_handler is not None and todo:
            try:
                async with conn.transaction():  # a savepoint: undone as a whole if one event is bad
                    await self._batch_handler(conn, [event for _, event, _ in todo])
                return []
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.warning("batch_fallback", consumer=self.name, events=len(todo), error=type(exc).__name__)
        dead = []
        for source, event, inbox_id in todo:
            try:
                async with conn.transaction():  # a savepoint: one broken rule does not undo the batch
                    with tracing.handling(event.event_id):
                        await self._handlers[event.event_type](conn, event)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.warning("dead_lettered", consumer=self.name, event_type=event.event_type,
                            event_id=str(event.event_id), reason=getattr(exc, "code", type(exc).__name__))
                tracing.mark_failed(event.event_id, getattr(exc, "code", type(exc).__name__))
                row = self._dead_letter(source, exc, service=self._service, attempts=attempt, consumer=self.name)
                dead.append((row, (inbox_id, source.position)))
        return dead

    def _not_mine(self, source: SourceRecord) -> bool:
        """A known event type this consumer has no handler for, or a kind of one it handles that it never uses (its
        `skip_headers`), told by the headers: skipped unparsed. Topics carry many types and each consumer handles a
        few; parsing the others was a pydantic validation (and an inbox row) each for nothing.
        An unknown type, or none in the headers, is still parsed (and dead-lettered if it is not a contract)."""
        event_type = source.header("event-type")
        if event_type is None or not self._registry.knows(event_type):
            return False
        if event_type not in self._handlers:
            return True
        # A kind of a type it handles that it never uses (a document's `document-kind`): its producer says so in a
        # header (Envelope.routing_headers), and the handler would have ignored it after a parse and an inbox row.
        return any(source.header(name) in values for name, values in self._skip_headers.items())

    def _wants(self, event: Envelope | ContractError) -> bool:
        return isinstance(event, ContractError) or event.event_type in self._handlers


def _type_of(event: Envelope | ContractError) -> str:
    return UNPARSED if isinstance(event, ContractError) else event.event_type


def _inbox_id(source: SourceRecord, event: Envelope | ContractError) -> str:
    if isinstance(event, ContractError):
        # Poison has no trustworthy id: its position identifies it, so a re-read is not dead-lettered twice.
        return f"@{source.topic}:{source.partition}:{source.offset}"
    return str(event.event_id)
