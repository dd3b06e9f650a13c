"""structlog JSON logging that drops personal data keys before anything is written."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys that could carry personal data; a processor drops them whatever the caller passes.
DENYLIST = frozenset({
    "ine", "last_name", "first_names", "first_name", "name", "birth_date", "birth_city_insee",
    "address", "iban", "bic", "holder_name", "email", "phone", "identity",
})


def drop_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in DENYLIST.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


class _CurrentStderr:
    """`sys.stderr` as it is at each write. A command run under a test runner has its own stderr, closed
    when it returns: a logger bound to that stream object would fail every later test's logging."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


STDERR: Any = _CurrentStderr()


def configure_logging(service: str, level: str = "INFO", json_output: bool = True) -> None:
    logging.basicConfig(stream=STDERR, level=level.upper(), format="%(message)s")
    for noisy in ("aiokafka", "faststream"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            drop_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=STDERR),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
