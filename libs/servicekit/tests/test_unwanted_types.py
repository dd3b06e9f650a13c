"""A consumer skips, unparsed, the known event types it has no handler for (told by the `event-type` header), and
still dead-letters what it would have dead-lettered among its own: a broken body of a type it handles, an unknown
type, a message without headers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from aplypro_contracts import DOCUMENT_KIND_HEADER, DocumentIssued, Registry, default_registry, to_wire
from aplypro_contracts.examples import examples
from aplypro_local.testing import migrated_pool
from aplypro_servicekit.consumer import EventConsumer
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row

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
    pool = await migrated_pool(database_url, namespace.replace(".", "_") + "unwanted")
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


async def test_kinds_a_consumer_never_uses_are_skipped_unparsed_by_their_header(database_url: str,
                                                                                 namespace: str) -> None:
    """A document's kind travels as a header (Envelope.routing_headers): a consumer that uses decisions only skips an
    état liquidatif unparsed, with no inbox row; a decision, and a message from before the header, are handled."""
    pool = await migrated_pool(database_url, namespace.replace(".", "_") + "kinds")
    handled: list[str] = []

    async def on_document(conn: Connection, event: Any) -> None:
        handled.append(event.kind)

    registry = CountingRegistry()
    consumer = EventConsumer(name="c", service="kit", pool=pool, registry=registry,
                             handlers={"DocumentIssued": on_document},
                             skip_headers={DOCUMENT_KIND_HEADER: frozenset({"liquidation"})})
    issued = next(e for e in examples() if e.event_type == "DocumentIssued")
    attribution, liquidation = (issued.model_copy(update={"kind": kind, "event_id": uuid.uuid4()})
                                for kind in ("attribution", "liquidation"))
    old_body, old_headers = to_wire(liquidation.model_copy(update={"event_id": uuid.uuid4()}))
    del old_headers[DOCUMENT_KIND_HEADER]  # as a documents service from before the header published it
    records = [record(*to_wire(attribution), 0), record(*to_wire(liquidation), 1), record(old_body, old_headers, 2)]
    await consumer.process_batch(records)
    inbox = await pool.fetchval("SELECT count(*) FROM processed_messages")
    await pool.close()
    assert to_wire(liquidation)[1][DOCUMENT_KIND_HEADER] == b"liquidation"
    assert handled == ["attribution", "liquidation"]  # the decision, and the old message read as before
    assert registry.parsed == ["DocumentIssued", "DocumentIssued"]
    assert (inbox, consumer.processed, consumer.dead_lettered) == (2, 2, 0)


def test_the_outbox_row_of_a_document_carries_its_kind_and_other_events_no_routing_header() -> None:
    issued = next(e for e in examples() if isinstance(e, DocumentIssued))
    assert event_row("t", issued.student_id, issued).headers[DOCUMENT_KIND_HEADER] == issued.kind
    pfmp = next(e for e in examples() if e.event_type == "PfmpRecorded")
    assert set(event_row("t", uuid.uuid4(), pfmp).headers) == {"event-type", "schema-version", "content-type"}
