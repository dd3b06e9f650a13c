"""The whole gateway in-process (ServiceRuntime) on the suite's real broker and database, a producer into its
topics, and the state of a request as the gateway holds it: shared by the over-Kafka tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.entrypoints.service import build_spec
from aplypro_contracts import Envelope, to_wire
from aplypro_servicekit.runtime import ServiceRuntime

Send = Callable[[str, uuid.UUID, Envelope], Awaitable[None]]


@asynccontextmanager
async def gateway(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                  **env: str) -> AsyncIterator[tuple[AspSettings, asyncpg.Pool, Send]]:
    """Payment files go to `tmp_path`, built every 0.2 s; `env` adds or overrides settings."""
    for name, value in {**service_env, "APLYPRO_ASP_OUTBOX_DIR": str(tmp_path),
                        "APLYPRO_ASP_BUILD_INTERVAL_S": "0.2", **env}.items():
        monkeypatch.setenv(name, value)
    settings = AspSettings()
    runtime = ServiceRuntime(build_spec(settings), settings)
    await runtime.start()
    assert runtime.pool is not None
    producer = AIOKafkaProducer(bootstrap_servers=service_env["KAFKA_BOOTSTRAP_SERVERS"])
    await producer.start()

    async def send(topic: str, key: uuid.UUID, event: Envelope) -> None:
        body, headers = to_wire(event)
        await producer.send_and_wait(settings.topic(topic), body, key=str(key).encode(),
                                     headers=list(headers.items()))

    try:
        yield settings, runtime.pool, send
    finally:
        await producer.stop()
        await runtime.stop()


async def reasons_of(pool: asyncpg.Pool, payment_request_id: uuid.UUID) -> tuple[str, list[str]] | None:
    row = await pool.fetchrow("SELECT state, blocking_reasons FROM payment_requests WHERE payment_request_id = $1",
                              payment_request_id)
    return None if row is None else (row["state"], row["blocking_reasons"])
