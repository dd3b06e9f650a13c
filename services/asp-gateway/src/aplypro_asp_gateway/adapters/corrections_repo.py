"""SQL of the address-correction file (asp-exchange.md §4.9): each chosen PFMP's latest request with its data, and
the records a correction file carried (what its answer, §5.5, is matched against)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters import requests_repo
from aplypro_asp_gateway.domain.model import CorrectionRecord, PendingRequest


async def latest_requests(conn: Connection, pfmp_ids: Sequence[UUID]) -> dict[UUID, PendingRequest]:
    """Each PFMP's latest payment request (record ids grow: a retry or a rectification is a newer request),
    with the ASP ids its PFMP holds; a PFMP the gateway never heard of is absent."""
    ids = [r["payment_request_id"] for r in await conn.fetch(
        "SELECT DISTINCT ON (pfmp_id) payment_request_id FROM payment_requests WHERE pfmp_id = ANY($1::uuid[]) "
        "ORDER BY pfmp_id, record_id DESC", list(pfmp_ids))]
    return {r.pfmp_id: r for r in await requests_repo.read_requests(conn, ids)}


async def insert_records(conn: Connection, file_name: str, records: Sequence[CorrectionRecord]) -> None:
    await conn.executemany(
        "INSERT INTO correction_records (file_name, record_id, payment_request_id, pfmp_id, asp_individual_id, "
        "asp_dossier_id, asp_prestation_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(file_name, r.record_id, r.payment_request_id, r.pfmp_id, r.asp_ids.individu, r.asp_ids.dossier,
          r.asp_ids.prestation) for r in records])
