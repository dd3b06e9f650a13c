"""Each service's own /metrics gauges (queue depths, requests per state, files) run on its migrated schema
and answer with the labels they declare: a typo or a renamed column shows here, not as an empty panel."""

from __future__ import annotations

import uuid

import pytest
from aplypro_asp_gateway.entrypoints.gauges import GATEWAY_GAUGES
from aplypro_calculator.entrypoints.gauges import CALCULATOR_GAUGES
from aplypro_documents.entrypoints.gauges import documents_gauges
from aplypro_servicekit.db import create_pool, migrate
from aplypro_servicekit.schema_gauges import SchemaGauge

pytestmark = pytest.mark.integration

SERVICES = {
    "calculator": ("aplypro_calculator", CALCULATOR_GAUGES),
    "documents": ("aplypro_documents", documents_gauges(3)),
    "asp_gateway": ("aplypro_asp_gateway", GATEWAY_GAUGES),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_gauge_query_runs_on_the_migrated_schema(database_url: str, service: str) -> None:
    package, gauges = SERVICES[service]
    schema = f"gauges_{service}_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(database_url, schema)
    try:
        await migrate(pool, schema, ["aplypro_servicekit", package])
        for gauge in gauges:
            rows = await pool.fetch(gauge.sql)  # raises on a wrong table or column
            assert all(set(row.keys()) == {*gauge.labels, "value"} for row in rows), gauge.name
    finally:
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()


async def test_the_documents_queue_gauge_counts_per_kind_and_state(database_url: str) -> None:
    schema = f"gauges_documents_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(database_url, schema)
    try:
        await migrate(pool, schema, ["aplypro_servicekit", "aplypro_documents"])
        await pool.executemany("INSERT INTO render_queue (schooling_id, kind, attempts) VALUES ($1, $2, $3)",
                               [(uuid.uuid4(), "attribution", 0), (uuid.uuid4(), "attribution", 2),
                                (uuid.uuid4(), "attribution", 3), (uuid.uuid4(), "liquidation", 0)])
        queue: SchemaGauge = documents_gauges(3)[0]
        rows = {(r["kind"], r["state"]): r["value"] for r in await pool.fetch(queue.sql)}
        assert rows == {("attribution", "queued"): 2, ("attribution", "failed"): 1, ("liquidation", "queued"): 1}
    finally:
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()
