"""Shared by the pfmp tests: the service's schema of the test's namespace, migrated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from aplypro_pfmp.config import PfmpSettings
from aplypro_servicekit.db import create_pool, migrate


@pytest.fixture
async def pool(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = PfmpSettings(APLYPRO_TOPIC_NAMESPACE=namespace).db_schema("pfmp")
    assert schema != "pfmp"  # never the real schema
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_pfmp"])
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    """A real OIDC provider process with the demo accounts, for the web tests."""
    from aplypro_local.oidc import OidcProvider

    provider = OidcProvider.start()
    try:
        yield provider.issuer
    finally:
        provider.stop()
