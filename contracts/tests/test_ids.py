"""Ids cut from bulk OS randomness are proper, distinct version-4 UUIDs, in every thread."""

from __future__ import annotations

import threading
from uuid import RFC_4122, UUID

from aplypro_contracts.ids import new_uuid


def test_ids_are_random_version_4_uuids_and_never_repeat() -> None:
    ids = [new_uuid() for _ in range(20_000)]  # several refills of the buffer
    assert all(isinstance(i, UUID) and i.version == 4 and i.variant == RFC_4122 for i in ids)
    assert len(set(ids)) == len(ids)


def test_threads_draw_distinct_ids() -> None:
    drawn: list[list[UUID]] = [[] for _ in range(4)]

    def draw(into: list[UUID]) -> None:
        into.extend(new_uuid() for _ in range(5_000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in drawn for i in ids]
    assert len(set(every)) == len(every) == 20_000
