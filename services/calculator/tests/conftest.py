"""Fixtures of the calculator tests: a schema of their own on the real PostgreSQL, and a `Calc` on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aplypro_servicekit.db import create_pool, migrate

from .calculator_world import Calc, settings_for


@pytest.fixture
async def db(database_url: str, namespace: str) -> AsyncIterator[asyncpg.Pool]:
    schema = settings_for(namespace).db_schema("calculator")
    assert schema != "calculator"  # never the real schema
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit", "aplypro_calculator"])
    yield pool
    await pool.close()


@pytest.fixture
def calc(db: asyncpg.Pool, namespace: str) -> Calc:
    """A calculator that evaluates requests at once (cool-down `none`): what most tests are about."""
    return Calc.on(db, namespace, evaluation_cooldown="none")


@pytest.fixture
def nightly(db: asyncpg.Pool, namespace: str) -> Calc:
    """A calculator with the production cool-down: requests of validated PFMPs are due at the next midnight."""
    return Calc.on(db, namespace, evaluation_cooldown="next_midnight")


@pytest.fixture
def cli_env(database_url: str, namespace: str) -> dict[str, str]:
    """Environment of a CLI run on this test's schema."""
    return {"DATABASE_URL": database_url, "APLYPRO_TOPIC_NAMESPACE": namespace, "APLYPRO_LOG_JSON": "false"}
