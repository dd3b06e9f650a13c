"""`in_batch_order`: per-event handlers run under the batch's one savepoint, and a broken rule still costs
only its own event (the batch is replayed event by event), on the real PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import PfmpRecorded, default_registry, to_wire
from aplypro_contracts.examples import examples
from aplypro_servicekit.consumer import EventConsumer, in_batch_order
from aplypro_servicekit.db import Connection, create_pool, migrate

pytestmark = pytest.mark.integration


class RuleBroken(ValueError):
    code = "probe_rule_broken"


def marked(marker: bytes, offset: int) -> ConsumerRecord[bytes, bytes]:
    template = next(e for e in examples() if isinstance(e, PfmpRecorded))
    pfmp = template.pfmp.model_copy(update={"pfmp_id": uuid.UUID(bytes=marker.ljust(16, b"\0"))})
    body, headers = to_wire(template.model_copy(update={"event_id": uuid.uuid4(), "pfmp": pfmp}))
    return ConsumerRecord("source", 0, offset, 0, 0, b"k", body, None, 1, len(body), list(headers.items()))


async def test_handlers_share_the_batch_savepoint_and_a_broken_rule_costs_only_its_event(
    database_url: str, namespace: str
) -> None:
    schema = namespace.replace(".", "_") + "inorder"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE probe_rows (marker text NOT NULL)")

    async def on_pfmp(conn: Connection, event: Any) -> None:
        marker = event.pfmp.pfmp_id.bytes.rstrip(b"\0").decode()
        if marker == "bad":
            raise RuleBroken("this event breaks a rule")
        await conn.execute("INSERT INTO probe_rows (marker) VALUES ($1)", marker)

    handlers = {"PfmpRecorded": on_pfmp}
    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=default_registry(),
                             handlers=handlers, batch_handler=in_batch_order(handlers))
    await consumer.process_batch([marked(b"a", 0), marked(b"b", 1), marked(b"c", 2)])
    await consumer.process_batch([marked(b"d", 3), marked(b"bad", 4), marked(b"e", 5)])
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT marker, xmin::text AS xid FROM probe_rows ORDER BY marker")
        dead_letters = await conn.fetchval("SELECT count(*) FROM outbox")
    await pool.close()
    assert [r["marker"] for r in rows] == ["a", "b", "c", "d", "e"]  # each good event applied once
    # One subtransaction for the whole first batch: its rows share one xid (a savepoint per event gives
    # each row its own).
    assert len({r["xid"] for r in rows if r["marker"] in "abc"}) == 1
    assert dead_letters == 1
    assert consumer.dead_lettered == 1
