"""A stream of the gateway's single events packed into PaymentRequestsMoved groups, for the consumers' tests.

`grouped(rng, events)` gives two streams that must leave a consumer's tables the same: `mixed`, where runs of
the single events are replaced by groups (a group where its first member was, some groups read twice), and
`flat`, the single events those groups stand for, built here from the singles themselves rather than by the
contract's `parts()`, so a test comparing the two catches a `parts()` or `with_parts` that loses, reorders or
alters a move.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args

from aplypro_contracts import (
    MovedRequest,
    PaymentRequestHeld,
    PaymentRequestSent,
    PaymentRequestsMoved,
    PaymentRequestStateChanged,
)
from aplypro_contracts.asp import MovedState

_MOVED_STATES = frozenset(get_args(MovedState)) - {"held", "sent"}  # a group says those with their own events
_SIZES = (1, 2, 3, 5, 8, 30)  # a file's step of one request, of a few, of many


@dataclass(frozen=True)
class Grouped:
    units: list[tuple[Any, list[Any]]]  # what the mixed stream reads, each with the single events it stands for

    @property
    def flat(self) -> list[Any]:
        """The single events, in the order the groups give them."""
        return [single for _, singles in self.units for single in singles]

    @property
    def mixed(self) -> list[Any]:
        """The same moves, runs of them as groups."""
        return [mixed for mixed, _ in self.units]

    def cuts(self, rng: random.Random, sizes: Sequence[int]) -> list[tuple[list[Any], list[Any]]]:
        """The mixed stream cut into batches of random sizes, each with the single events of the same moves (what
        the same batch would be, had the gateway published single events)."""
        out = []
        at = 0
        while at < len(self.units):
            batch = self.units[at:at + rng.choice(sizes)]
            out.append(([m for m, _ in batch], [s for _, singles in batch for s in singles]))
            at += len(batch)
        return out

    def cases(self) -> dict[str, int]:
        """How often the mixed stream meets what a test means to cover: groups, groups read twice, a request's
        move in a group older than a single event of it read before, requests moved both ways."""
        groups = [e for e in self.mixed if isinstance(e, PaymentRequestsMoved)]
        newest_single: dict[uuid.UUID, int] = {}
        older = 0
        for event in self.mixed:
            if isinstance(event, PaymentRequestsMoved):
                older += sum(r.version < newest_single.get(r.payment_request_id, -1) for r in event.requests)
            elif isinstance(event, PaymentRequestHeld | PaymentRequestSent | PaymentRequestStateChanged):
                held = newest_single.get(event.payment_request_id, -1)
                newest_single[event.payment_request_id] = max(held, event.version)
        in_groups = {r.payment_request_id for g in groups for r in g.requests}
        return {"groups": len(groups), "read_twice": len(groups) - len({g.event_id for g in groups}),
                "older_than_a_single_before": older, "moved_both_ways": len(in_groups & set(newest_single))}


def can_group(event: Any) -> bool:
    """A single event a group can carry: a hold, a sending, or a state a group names (not `incomplete`, nor a
    `sent` state: a group sends with PaymentRequestSent, its amount and file)."""
    if isinstance(event, PaymentRequestStateChanged):
        return event.state in _MOVED_STATES
    return isinstance(event, PaymentRequestHeld | PaymentRequestSent)


def grouped(rng: random.Random, events: Sequence[Any], *, share: float = 0.7, window: int = 60,
            twice: float = 0.1) -> Grouped:
    """`share` of the groupable events start a group, which takes more of them (other requests) from the next
    `window` events; a group is read twice (a redelivery, later) with probability `twice`."""
    units: list[tuple[Any, list[Any]]] = []  # (what the mixed stream reads, the singles it stands for)
    taken: set[int] = set()
    for i, event in enumerate(events):
        if i in taken:
            continue
        if not can_group(event) or rng.random() >= share:
            units.append((event, [event]))
            continue
        members, requests = [event], {event.payment_request_id}
        size = rng.choice(_SIZES)
        for j in range(i + 1, min(len(events), i + 1 + window)):
            if len(members) >= size:
                break
            other = events[j]
            if j not in taken and can_group(other) and other.payment_request_id not in requests:
                members.append(other)
                requests.add(other.payment_request_id)
                taken.add(j)
        units.append(_group(members))
    for unit in [u for u in units if isinstance(u[0], PaymentRequestsMoved) and rng.random() < twice]:
        units.insert(rng.randint(units.index(unit) + 1, len(units)), unit)  # read again, later
    return Grouped(units)


def _group(members: list[Any]) -> tuple[PaymentRequestsMoved, list[Any]]:
    sent = [m for m in members if isinstance(m, PaymentRequestSent)]
    group = PaymentRequestsMoved(producer="asp-gateway", occurred_at=members[0].occurred_at,
                                 file_name=sent[0].file_name if sent else None,
                                 requests=tuple(moved_request(m) for m in members))
    # What the contract promises of each part: the group's time, producer and file, an id derived from the
    # group's and the request's (issue 12); every other field the single event's own.
    singles = [m.model_copy(update={
        "event_id": uuid.uuid5(group.event_id, str(m.payment_request_id)), "occurred_at": group.occurred_at,
        "producer": group.producer, **({"file_name": group.file_name} if isinstance(m, PaymentRequestSent) else {})})
        for m in members]
    return group, singles


def moved_request(event: Any) -> MovedRequest:
    """The move a group carries for one single event of the gateway (one `can_group` accepts)."""
    common: dict[str, Any] = {
        "payment_request_id": event.payment_request_id, "pfmp_id": event.pfmp_id, "student_id": event.student_id,
        "version": event.version, "correlation_id": event.correlation_id, "causation_id": event.causation_id}
    if isinstance(event, PaymentRequestHeld):
        return MovedRequest(**common, state="held", reasons=event.reasons)
    if isinstance(event, PaymentRequestSent):
        return MovedRequest(**common, state="sent", amount_cents=event.amount_cents, rib_id=event.rib_id)
    return MovedRequest(**common, state=event.state, reasons=event.reasons, paid_amount=event.paid_amount,
                        recovery=event.recovery, rib_id=event.rib_id)
