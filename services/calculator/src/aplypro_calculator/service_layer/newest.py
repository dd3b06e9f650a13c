"""The newest event of each schooling in a batch, against the versions held: for the schooling-level facts
(reports, hidings) that replace each other whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar
from uuid import UUID

from aplypro_calculator.adapters.postgres_stale import is_newer


class SchoolingFact(Protocol):
    @property
    def schooling_id(self) -> UUID: ...
    @property
    def version(self) -> int: ...
    @property
    def event_type(self) -> str: ...


F = TypeVar("F", bound=SchoolingFact)


def newest_per_schooling(events: Sequence[F], held: Mapping[UUID, int]) -> tuple[dict[UUID, F], Counter[str]]:
    """Each schooling's newest event, and the count of the others (older than held, replayed, or superseded
    within the batch) by event type: they are stale."""
    newest: dict[UUID, F] = {}
    dropped: Counter[str] = Counter()
    for event in events:
        current = newest[event.schooling_id].version if event.schooling_id in newest else held.get(event.schooling_id)
        if current is not None and not is_newer(event.version, current):
            dropped[event.event_type] += 1
            continue
        if event.schooling_id in newest:
            dropped[event.event_type] += 1  # the older one of the batch
        newest[event.schooling_id] = event
    return newest, dropped
