"""A consumer skips, unparsed, the known event types it has no handler for (told by the `event-type` header), and
still dead-letters what it would have dead-lettered among its own: a broken body of a type it handles, an unknown
type, a message without headers."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import Registry, default_registry, to_wire
from aplypro_contracts.examples import examples
from aplypro_servicekit.consumer import EventConsumer
from aplypro_servicekit.db import Connection, create_pool, migrate

pytestmark = pytest.mark.integration


def record(body: bytes, headers: dict[str, bytes] | None, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("source", 0, offset, 0, 0, b"k", body, None, 1, len(body),
                          list((headers or {}).items()))


class CountingRegistry(Registry):
    """The default registry, counting which types it was asked to parse (by the type header)."""

    def __init__(self) -> None:
        super().__init__()
        base = default_registry()
        self._models, self._latest, self._upcasters = base._models, base._latest, base._upcasters
        self.parsed: list[str] = []

    def parse(self, raw: bytes | str, type_header: bytes | None = None,
              version_header: bytes | None = None) -> Any:
        self.parsed.append(type_header.decode() if type_header else "?")
        return super().parse(raw, type_header, version_header)


async def test_unhandled_known_types_are_skipped_unparsed_and_bad_messages_still_dead_letter(
    database_url: str, namespace: str
) -> None:
    schema = namespace.replace(".", "_") + "unwanted"
    pool = await create_pool(database_url, schema)
    await migrate(pool, schema, ["aplypro_servicekit"])
    handled: list[str] = []

    async def on_pfmp(conn: Connection, event: Any) -> None:
        handled.append(event.event_type)

    registry = CountingRegistry()
    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=registry,
                             handlers={"PfmpRecorded": on_pfmp})
    by_type = {e.event_type: e for e in examples()}
    pfmp_body, pfmp_headers = to_wire(by_type["PfmpRecorded"])
    other_body, other_headers = to_wire(by_type["SchoolingOpened"])
    records = [
        record(pfmp_body, pfmp_headers, 0),  # handled
        record(other_body, other_headers, 1),  # a known type it does not handle: skipped unparsed
        record(b"{not json", other_headers, 2),  # broken, of a type it does not handle: not its dead letter
        record(b"{not json", pfmp_headers, 3),  # broken, of its own type: dead-lettered
        record(b'{"event_type": "Nobody"}', {"event-type": b"Nobody", "schema-version": b"1"}, 4),  # unknown
        record(b"{not json", None, 5),  # no headers: parsed, dead-lettered
    ]
    await consumer.process_batch(records)
    async with pool.acquire() as conn:
        dead = await conn.fetchval("SELECT count(*) FROM outbox_batch") + await conn.fetchval(
            "SELECT count(*) FROM outbox")
        inbox = await conn.fetchval("SELECT count(*) FROM processed_messages")
    await pool.close()
    assert handled == ["PfmpRecorded"]
    assert "SchoolingOpened" not in registry.parsed
    assert sorted(registry.parsed) == sorted(["PfmpRecorded", "PfmpRecorded", "Nobody", "?"])
    assert consumer.dead_lettered == 3
    assert dead >= 1  # the dead letters went to the outbox
    assert inbox == 4  # the handled event and the three dead letters: the skipped ones are not this consumer's
