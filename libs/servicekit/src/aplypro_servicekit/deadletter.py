"""Classifying failures, and the dead-letter record of a message that cannot be processed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
from aplypro_contracts import ContractError
from aplypro_contracts.topics import dead_letter_topic
from pydantic import ValidationError

from .outbox import OutboxRow

# Errors that say "try again later": the database or the broker is unreachable or busy.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    asyncio.TimeoutError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.AdminShutdownError,
)


def is_transient(exc: BaseException) -> bool:
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


def dead_letter_headers(exc: BaseException, *, service: str, attempts: int) -> dict[str, str]:
    """Why a message or a piece of work was given up (never personal data: messages name fields)."""
    return {
        "dlt-reason-code": reason_code(exc),
        "dlt-reason": str(exc)[:500],
        "dlt-exception": type(exc).__name__,
        "dlt-service": service,
        "dlt-attempts": str(attempts),
    }


def dead_letter_row(record: SourceRecord, exc: BaseException, *, service: str, attempts: int) -> OutboxRow:
    """The original bytes, with why and where from in headers."""
    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
    headers.update(dead_letter_headers(exc, service=service, attempts=attempts))
    headers.update({
        "dlt-source-topic": record.topic,
        "dlt-source-partition": str(record.partition),
        "dlt-source-offset": str(record.offset),
    })
    return OutboxRow(dead_letter_topic(record.topic), record.key, record.value, headers)
