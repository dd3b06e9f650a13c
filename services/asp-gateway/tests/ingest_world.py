"""Builders of the return-ingest tests: requests sent in a real payment file, the ASP's answers to them (written
with return_samples.py), and probes of the requests and of the events in the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from aplypro_asp_gateway.service_layer import projection
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_asp_gateway.service_layer.ingest import IncomingReturn, IngestResult, ingest_all
from aplypro_contracts import PaymentRequestStateChanged

from .conftest import feed, register, request
from .published import outbox_events
from .return_samples import (
    INTEGRATIONS_HEADER,
    REJECTS_HEADER,
    csv_file,
    integration_line,
    payment,
    payments_file,
)


@dataclass(frozen=True)
class Sent:
    payment_request_id: uuid.UUID
    record_id: int
    pfmp_id: uuid.UUID
    pfmp_number: str
    n: int  # its ASP ids: integration_line(record_id, n)

    @property
    def prestation(self) -> str:
        return str(9800000 + self.n)


async def send_requests(pool: asyncpg.Pool, options: BuildOptions, count: int) -> tuple[str, list[Sent]]:
    """`count` students, one request each, built into one payment file: all `sent`."""
    for n in range(count):
        await feed(pool, projection.on_payment_requested, request(*await register(pool, n % 3)))
    result = await build_payment_file(pool, options)
    assert result.file_name is not None
    assert result.records == count
    rows = await pool.fetch("SELECT fr.payment_request_id, fr.record_id, fr.pfmp_id, fr.pfmp_number "
                            "FROM file_records fr WHERE fr.file_name = $1 ORDER BY fr.record_id", result.file_name)
    return result.file_name, [Sent(r["payment_request_id"], r["record_id"], r["pfmp_id"], r["pfmp_number"], n)
                              for n, r in enumerate(rows)]


def integrations(upload: str, sent: list[Sent], *extra: str) -> IncomingReturn:
    return IncomingReturn(f"identifiants_generes_{upload.removesuffix('.xml')}.csv", csv_file(
        INTEGRATIONS_HEADER, [*(integration_line(s.record_id, s.n) for s in sent), *extra]))


def rejects(upload: str, *lines: str) -> IncomingReturn:
    return IncomingReturn(f"rejets_integ_idp_{upload.removesuffix('.xml')}.csv", csv_file(REJECTS_HEADER, lines))


def payments(name: str, *records: str) -> IncomingReturn:
    return IncomingReturn(name, payments_file(records))


def paid(sent: Sent, net: str = "300.00", day: str = "05/06/2026") -> str:
    return payment("PAYE", sent.prestation, net=net, day=day, iban="FR7630006000011234567890189")


async def ingest(pool: asyncpg.Pool, options: BuildOptions, *files: IncomingReturn) -> list[IngestResult]:
    return await ingest_all(pool, files, topic=options.topic, schema=options.schema, grouping=options.grouping)


async def row_of(pool: asyncpg.Pool, sent: Sent) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM payment_requests WHERE payment_request_id = $1", sent.payment_request_id)
    assert row is not None
    return dict(row)


async def states(pool: asyncpg.Pool) -> dict[uuid.UUID, str]:
    return {r["payment_request_id"]: r["state"] for r in await pool.fetch(
        "SELECT payment_request_id, state FROM payment_requests")}


async def state_events(pool: asyncpg.Pool) -> list[PaymentRequestStateChanged]:
    events: list[PaymentRequestStateChanged] = await outbox_events(pool, "PaymentRequestStateChanged")
    # The moves the ASP's returns made: the build's `ready` (the RIB frozen, test_sent_once_uploaded) left out.
    return [e for e in events if e.state != "ready"]
