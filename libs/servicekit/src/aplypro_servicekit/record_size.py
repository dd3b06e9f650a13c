"""The largest Kafka record a service may write: refused at write time, so a relay never meets one.

Apache Kafka refuses records over `message.max.bytes` (1 MiB by default, and in deploy/); Tansu takes
them. A record refused by the broker would block the outbox for good, so the outbox checks first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .outbox import OutboxRow

DEFAULT_MAX_RECORD_BYTES = 1_000_000  # under Kafka's 1 MiB default, with room for the batch overhead
ENV_NAME = "APLYPRO_MAX_RECORD_BYTES"

_limit: int | None = None


class RecordTooLarge(ValueError):
    """A message bigger than the broker accepts; `index` is its position among the rows written."""

    code = "record_too_large"

    def __init__(self, size: int, limit: int, index: int) -> None:
        super().__init__(f"record of {size} bytes is over the {limit}-byte limit ({ENV_NAME})")
        self.size, self.limit, self.index = size, limit, index


def max_record_bytes() -> int:
    """The limit: set explicitly (tests, runtime) or read once from the environment."""
    global _limit
    if _limit is None:
        _limit = int(os.environ.get(ENV_NAME, DEFAULT_MAX_RECORD_BYTES))
    return _limit


def set_max_record_bytes(limit: int | None) -> None:
    """Override the limit (None: read the environment again on next use)."""
    global _limit
    _limit = limit


def record_size(row: OutboxRow) -> int:
    """Bytes the record takes on the wire, near enough: value, key and headers."""
    return (len(row.payload) + len(row.key or b"")
            + sum(len(k) + len(v.encode()) for k, v in row.headers.items()))


def check_record_sizes(rows: Sequence[OutboxRow]) -> None:
    limit = max_record_bytes()
    for index, row in enumerate(rows):
        # Cheap first test: most payloads are a few hundred bytes.
        if len(row.payload) > limit // 2 and (size := record_size(row)) > limit:
            raise RecordTooLarge(size, limit, index)
