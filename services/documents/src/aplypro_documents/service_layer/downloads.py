"""One stored document's bytes for a download, checked against the sha256 recorded at issue, with its human
file names (documents.md §7)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio
import asyncpg

from aplypro_documents.adapters import postgres_downloads
from aplypro_documents.adapters.storage import Storage
from aplypro_documents.domain.file_names import asp_liquidation_name, student_document_name
from aplypro_documents.service_layer.class_batch import CorruptObjectError, DocumentNotRenderedError


class UnknownDocumentError(LookupError):
    code = "unknown_document"


@dataclass(frozen=True)
class Download:
    data: bytes
    file_name: str  # for school staff
    asp_file_name: str  # for the ASP (the état liquidatif by PFMP number; the others as for staff)
    meta: dict[str, Any]


def describe(row: dict[str, Any], pfmp_number: str | None = None) -> dict[str, Any]:
    """What the API tells about a document: numbers and ids, names only inside the file name."""
    name = student_document_name(row["last_name"] or "", row["first_names"], row["kind"], row["number"])
    asp = asp_liquidation_name(pfmp_number or row["number"]) if row["kind"] == "liquidation" else name
    return {"document_id": row["document_id"], "kind": row["kind"], "schooling_id": row["schooling_id"],
            "student_id": row["student_id"], "number": row["number"], "version": row["version"],
            "issued_at": row["created_at"], "size_bytes": row["size_bytes"], "uai": row["uai"],
            "school_year": row["school_year"], "file_name": name, "asp_file_name": asp}


async def fetch(pool: asyncpg.Pool, storage: Storage, document_id: UUID) -> Download:
    async with pool.acquire() as conn:
        row = await postgres_downloads.one(conn, document_id)
        if row is None:
            raise UnknownDocumentError(f"no document {document_id}")
        if row["sha256"] is None:  # issued (number and content fixed), its PDF not rendered yet
            raise DocumentNotRenderedError(f"document {document_id} is issued, its PDF is not rendered yet")
        pfmp_number = (await postgres_downloads.latest_pfmp_number(conn, row["schooling_id"])
                       if row["kind"] == "liquidation" else None)
    data = await anyio.to_thread.run_sync(storage.get, row["storage_ref"])  # S3 or disk: off the loop
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise CorruptObjectError(f"document {document_id}: stored bytes differ from the issued ones")
    meta = describe(row, pfmp_number)
    return Download(data, meta["file_name"], meta["asp_file_name"], meta)
