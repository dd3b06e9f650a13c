"""pytest fixtures: the real broker and database for the whole session, started by the suite itself.

Set KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL to reuse servers that already run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .embedded import EmbeddedKafka, EmbeddedPostgres


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    broker = EmbeddedKafka.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    # A short path: PostgreSQL's unix socket path must stay under ~100 characters.
    data_dir = Path(tempfile.mkdtemp(prefix="aplypg-"))
    server = EmbeddedPostgres.start(data_dir)
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)  # ~150 MB per run otherwise left in /tmp


@pytest.fixture
def namespace() -> str:
    """A unique prefix for this test's topics, consumer groups and schemas."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def service_env(kafka_bootstrap: str, database_url: str, namespace: str) -> dict[str, str]:
    """Environment for service processes or settings of this test: its own servers and namespace."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        "APLYPRO_TOPIC_NAMESPACE": namespace,
        "APLYPRO_SESSION_TIMEOUT_MS": "6000",
        # The embedded broker's count for a topic it creates on demand (a test that produces before a service
        # created its topics): services refuse to start on topics of another count (partition_check.py).
        "APLYPRO_TOPIC_PARTITIONS": "4",
    }
