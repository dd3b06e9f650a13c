"""Retry policy shared by the student API clients: exponential backoff, Retry-After honoured, bounded.

429 and 5xx answers, timeouts and dropped connections are transient; anything else is the caller's.
"""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5  # seconds before the 2nd attempt, doubled each time
    max_delay: float = 30.0  # a single wait never exceeds this...
    max_retry_after: float = 120.0  # ...and a server asking for longer (SYGNE says 1 h) makes us give up now

    def backoff(self, attempt: int) -> float:
        """Wait after failed attempt `attempt` (1-based): base·2^(n-1), jittered by ±10 % so runs do not sync."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return delay * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds asked by a Retry-After header: delta-seconds or an HTTP-date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
