"""Classifying failures, and the dead-letter record of a message that cannot be processed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
from aplypro_contracts import ContractError
from aplypro_contracts.topics import dead_letter_topic
from pydantic import ValidationError

from .outbox import OutboxRow
from .record_size import max_record_bytes, record_size

# Errors that say "try again later" without a SQLSTATE: the database or the broker is unreachable.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    asyncio.TimeoutError,
    asyncpg.exceptions.InterfaceError,
)

# PostgreSQL errors that pass on their own (PostgreSQL docs, appendix A), classified by SQLSTATE so a
# code asyncpg has no class for (it raises UnknownPostgresError) is still known for what it is.
TRANSIENT_SQLSTATE_CLASSES = frozenset({
    "08",  # connection exception
    "53",  # insufficient resources: disk full, out of memory, too many connections, limits
})
TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout, NOWAIT)
    "57014",  # query_canceled (statement_timeout, pg_cancel_backend)
    "57P01", "57P02", "57P03",  # admin_shutdown, crash_shutdown, cannot_connect_now
})

# A replayed dead letter carries the attempts it already used, so a new failure counts on from there.
REPLAY_ATTEMPTS_HEADER = "replay-attempts"
# The consumer a replay is for (`<service>.<consumer>`, its group): every other consumer of the topic skips
# it, so a message dead-lettered by each of N consumers is not processed N times N when all are replayed.
REPLAY_FOR_HEADER = "replay-for"
_REPLAY_HEADERS = (REPLAY_ATTEMPTS_HEADER, REPLAY_FOR_HEADER)
# A dead letter whose original was too big to keep whole: the original size in bytes.
TRUNCATED_HEADER = "dlt-body-truncated"
DLT_HEADER_PREFIX = "dlt-"


def is_transient(exc: BaseException) -> bool:
    """True for an error that passes with time: retried with backoff, then nacked, never dead-lettered."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, asyncpg.PostgresError) and isinstance(sqlstate, str):
        return sqlstate in TRANSIENT_SQLSTATES or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
    return isinstance(exc, TRANSIENT_ERRORS)


def reason_code(exc: BaseException) -> str:
    """A stable code: the contract or domain error's own code, else a generic one."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    if isinstance(exc, ValidationError):
        return "schema_violation"
    if isinstance(exc, ContractError):
        return exc.code
    return "processing_error"


@dataclass(frozen=True)
class SourceRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def position(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None

    def replay_attempts(self) -> int | None:
        """Attempts already spent before a replay, or None if this record is not a replay."""
        value = self.header(REPLAY_ATTEMPTS_HEADER)
        if value is None:
            return None
        return max(0, int(value)) if value.isdigit() else 0

    def replay_for(self, service: str, consumer: str) -> bool:
        """False for a replay meant for another consumer (each consumer replays its own dead letters)."""
        target = self.header(REPLAY_FOR_HEADER)
        return target is None or target in (service, f"{service}.{consumer}")


def dead_letter_headers(exc: BaseException, *, service: str, attempts: int) -> dict[str, str]:
    """Why a message or a piece of work was given up (never personal data: messages name fields)."""
    return {
        "dlt-reason-code": reason_code(exc),
        "dlt-reason": str(exc)[:500],
        "dlt-exception": type(exc).__name__,
        "dlt-service": service,
        "dlt-attempts": str(attempts),
    }


def dead_letter_row(record: SourceRecord, exc: BaseException, *, service: str, attempts: int,
                    consumer: str | None = None) -> OutboxRow:
    """The original bytes, with why and where from in headers; `attempts` adds to a replay's earlier ones.

    A dead letter never exceeds the record size limit (the outbox would refuse it and the consumer would
    stop on it): a too-big original keeps its headers and the start of its body, and says so.
    """
    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers if k not in _REPLAY_HEADERS}
    headers.update(dead_letter_headers(exc, service=service, attempts=attempts + (record.replay_attempts() or 0)))
    if consumer is not None:
        headers["dlt-consumer"] = consumer
    headers.update({
        "dlt-source-topic": record.topic,
        "dlt-source-partition": str(record.partition),
        "dlt-source-offset": str(record.offset),
    })
    return _within_limit(OutboxRow(dead_letter_topic(record.topic), record.key, record.value, headers))


def _within_limit(row: OutboxRow) -> OutboxRow:
    limit = max_record_bytes()
    size = record_size(row)
    if size <= limit:
        return row
    headers = {**row.headers, TRUNCATED_HEADER: str(len(row.payload))}
    room = limit - record_size(row._replace(payload=b"", headers=headers))
    if room < 0:  # the original headers alone are too big: keep only ours
        headers = {k: v for k, v in headers.items() if k.startswith(DLT_HEADER_PREFIX)}
        headers["dlt-headers-dropped"] = "true"
        room = max(0, limit - record_size(row._replace(payload=b"", headers=headers)))
    return row._replace(payload=row.payload[:room], headers=headers)
