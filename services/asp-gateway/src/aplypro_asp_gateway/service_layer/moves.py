"""A file's moves (its build, upload or return) as outbox rows: PaymentRequestsMoved groups, or single events.

Grouped, each group holds the requests whose student key falls on one partition of the events topic, in their
order, at most MOVES_PER_EVENT of them and half the broker's record limit in bytes, and is keyed by its first
request's student: it lands on the partition every one of its students' other events go to (a consumer keeps a
partition's records in one lane, in order, and instances rely on a student's events keeping one partition).
Each request's move is the single event it replaces, copied field by field, so `parts()` gives that event back
(except its event_id and occurred_at). Off (APLYPRO_ASP_GROUPED_EVENTS=false), the single events go as they
did, for consumers that do not read groups yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aplypro_contracts import (
    MOVES_PER_EVENT,
    MovedRequest,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestsMoved,
)
from aplypro_contracts.asp import AspRequestEvent
from aplypro_servicekit.key_partition import key_partition
from aplypro_servicekit.outbox import OutboxRow, event_row
from aplypro_servicekit.record_size import max_record_bytes

__all__ = ["Grouping", "by_partition", "move_rows", "moved", "within_bytes"]


@dataclass(frozen=True)
class Grouping:
    """How a file's moves leave: `partitions` is the events topic's count (APLYPRO_TOPIC_PARTITIONS), the one a
    key is hashed over; `grouped` false sends one event per request."""

    partitions: int
    grouped: bool = True


def move_rows(topic: str, events: Sequence[AspRequestEvent], grouping: Grouping, *,
              file_name: str | None = None) -> list[OutboxRow]:
    """The outbox rows of one transaction's moves; `file_name` is the file built, uploaded or returned."""
    if not grouping.grouped:
        return [event_row(topic, e.student_id, e) for e in events]
    rows = []
    for chunk in by_partition(events, grouping.partitions):
        for piece in within_bytes([(e, moved(e, file_name)) for e in chunk], max_record_bytes() // 2):
            first = piece[0][0]
            group = PaymentRequestsMoved(
                producer=first.producer, file_name=file_name, requests=tuple(m for _, m in piece),
                # The first request's flow: the group's row is keyed by its student, whose trace it continues.
                correlation_id=first.correlation_id, causation_id=first.causation_id)
            rows.append(event_row(topic, first.student_id, group))
    return rows


def within_bytes(moves: list[tuple[AspRequestEvent, MovedRequest]],
                 budget: int) -> list[list[tuple[AspRequestEvent, MovedRequest]]]:
    """The moves cut, in order, so that each piece's moves weigh at most `budget` bytes on the wire: a move held
    for many reasons weighs ≈ 2 KB, and a full group of them would pass the broker's record limit, which would
    stop every build (the outbox refuses it) and cut a dead letter's body."""
    pieces: list[list[tuple[AspRequestEvent, MovedRequest]]] = [[]]
    weight = 0
    for event, move in moves:
        size = len(move.model_dump_json()) + 1
        if pieces[-1] and weight + size > budget:
            pieces.append([])
            weight = 0
        pieces[-1].append((event, move))
        weight += size
    return [piece for piece in pieces if piece]


def by_partition(events: Sequence[AspRequestEvent], partitions: int) -> list[list[AspRequestEvent]]:
    """The events split by the partition their student key falls on (as `event_row` keys them), in their order,
    in chunks of at most MOVES_PER_EVENT; partitions in the order they first appear."""
    ids = list(range(partitions))
    lanes: dict[int, list[AspRequestEvent]] = {}
    for event in events:
        lanes.setdefault(key_partition(str(event.student_id).encode(), ids), []).append(event)
    return [lane[start:start + MOVES_PER_EVENT] for lane in lanes.values()
            for start in range(0, len(lane), MOVES_PER_EVENT)]


def moved(event: AspRequestEvent, file_name: str | None) -> MovedRequest:
    """The single event as one move of a group (whose `file_name` a PaymentRequestSent part takes)."""
    common = {"payment_request_id": event.payment_request_id, "pfmp_id": event.pfmp_id,
              "student_id": event.student_id, "version": event.version, "correlation_id": event.correlation_id,
              "causation_id": event.causation_id}
    if isinstance(event, PaymentRequestHeld):
        return MovedRequest.model_validate({**common, "state": "held", "reasons": event.reasons})
    if isinstance(event, PaymentRequestSent):
        if event.file_name != file_name:  # a part takes the group's name: another one would be a wrong event
            raise ValueError("a sent request's file is not the group's")
        return MovedRequest.model_validate({**common, "state": "sent", "amount_cents": event.amount_cents,
                                            "rib_id": event.rib_id})
    if event.state in ("incomplete", "sent"):  # never a file's move; a `sent` part would be a PaymentRequestSent
        raise ValueError(f"a {event.state} state change is not a move a group carries")
    return MovedRequest.model_validate({**common, "state": event.state, "reasons": event.reasons,
                                        "paid_amount": event.paid_amount, "recovery": event.recovery,
                                        "rib_id": event.rib_id})
