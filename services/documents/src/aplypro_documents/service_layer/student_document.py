"""One schooling's latest issued document of a kind, rebuilt from what documents knows now (student page).

The content comes from the same builders as at issue (content.py), with the version and the issue date
recorded then. A document whose rebuilt number or version differs from the issued one, or whose content
no longer hashes as issued (états liquidatifs record that hash), is refused: never print what was not issued.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from aplypro_documents.adapters import postgres, postgres_decisions, postgres_liquidation
from aplypro_documents.domain.decisions import newer_schooling
from aplypro_documents.domain.model import Document, DocumentKind
from aplypro_documents.service_layer.content import (
    PARIS,
    abrogation_from,
    attribution_from,
    input_hash,
    liquidation_from,
    number_and_version,
    withdrawal_from,
)

LABELS = {
    DocumentKind.ATTRIBUTION: "décision d'attribution",
    DocumentKind.ABROGATION: "abrogation",
    DocumentKind.WITHDRAWAL: "retrait",
    DocumentKind.LIQUIDATION: "état liquidatif",
}


class SchoolingNotReadyError(LookupError):
    """Unknown schooling, or the inputs of its document are no longer all known."""

    code = "schooling_not_ready"


class NoDocumentIssuedError(LookupError):
    """The schooling has no document of that kind: never due, or the renderer has not reached it."""

    code = "no_document_issued"


class StaleDocumentError(ValueError):
    """The inputs changed since issue so that the document would differ: a reissue is due (documents.md §6)."""

    code = "stale_document"


Rebuild = Callable[[Any, UUID, date, int, Mapping[str, str]], Awaitable[Document | None]]


async def issued_document(
    pool: asyncpg.Pool, schooling_id: UUID, kind: DocumentKind, programmes: Mapping[str, str]
) -> Document:
    """The highest issued version of `kind`, with its number, version and issue date, from today's inputs."""
    label = LABELS[kind]
    async with pool.acquire() as conn:
        issued = await postgres.current_document(conn, schooling_id, str(kind))
        if issued is None:
            if not await postgres.schooling_known(conn, schooling_id):
                raise SchoolingNotReadyError(f"schooling {schooling_id} is unknown")
            raise NoDocumentIssuedError(f"schooling {schooling_id} has no {label} issued")
        # The issuer dates a document on the French day of its transaction, which created_at records.
        issued_on = issued["created_at"].astimezone(PARIS).date()
        doc = await _REBUILD[kind](conn, schooling_id, issued_on, issued["version"], programmes)
    if doc is None:
        raise SchoolingNotReadyError(f"the inputs of the {label} of schooling {schooling_id} are no longer known")
    # The ASP and the school know the document by its number and version: print no other.
    if number_and_version(doc) != (issued["number"], issued["version"]):
        number, version = number_and_version(doc)
        raise StaleDocumentError(f"{label} {issued['number']} version {issued['version']} no longer matches its "
                                 f"inputs (now {number} version {version}): reissue it")  # fmt: skip
    if issued["input_sha256"] is not None and input_hash(doc) != issued["input_sha256"]:
        raise StaleDocumentError(f"{label} {issued['number']} version {issued['version']} no longer matches its "
                                 "inputs: a newer version is due")  # fmt: skip
    return doc


async def _attribution(conn: Any, schooling_id: UUID, issued_on: date, version: int,
                       _: Mapping[str, str]) -> Document | None:  # fmt: skip
    inputs = await postgres.attribution_inputs(conn, schooling_id)
    return None if inputs is None else attribution_from(inputs, issued_on, version)


async def _abrogation(conn: Any, schooling_id: UUID, issued_on: date, version: int,
                      _: Mapping[str, str]) -> Document | None:  # fmt: skip
    row = await postgres_decisions.issued_decision_inputs(conn, schooling_id)
    if row is None:
        return None
    spans = (await postgres_decisions.student_schoolings(conn, [row["student_id"]]))[row["student_id"]]
    this = next(span for span in spans if span.schooling_id == schooling_id)
    # The motives compare with the schooling that superseded this one on the day of issue.
    newer = newer_schooling(this, spans, issued_on)
    if newer is None:
        raise StaleDocumentError(f"no schooling supersedes schooling {schooling_id} any more: its abrogation "
                                 "cannot be rebuilt as issued")  # fmt: skip
    return abrogation_from(row, newer, issued_on, version)


async def _withdrawal(conn: Any, schooling_id: UUID, issued_on: date, _version: int,
                      _: Mapping[str, str]) -> Document | None:  # fmt: skip
    # It names the current DA; a different DA shows as a different number in issued_document.
    row = await postgres_decisions.issued_decision_inputs(conn, schooling_id)
    return None if row is None else withdrawal_from(row, issued_on)


async def _liquidation(conn: Any, schooling_id: UUID, _issued_on: date, version: int,
                       programmes: Mapping[str, str]) -> Document | None:  # fmt: skip
    row = await postgres_liquidation.liquidation_inputs(conn, schooling_id)
    if row is None:
        return None
    pfmps = (await postgres_liquidation.requested_pfmps(conn, [schooling_id]))[schooling_id]
    # Read only: a PFMP without a stored number was requested after the last issue, which it is not in.
    if not pfmps or any(p["pfmp_number"] is None for p in pfmps):
        raise StaleDocumentError(f"the PFMPs of schooling {schooling_id} changed since its last état "
                                 "liquidatif: a newer version is due")  # fmt: skip
    return liquidation_from(row, pfmps, programmes, version)


_REBUILD: dict[DocumentKind, Rebuild] = {
    DocumentKind.ATTRIBUTION: _attribution,
    DocumentKind.ABROGATION: _abrogation,
    DocumentKind.WITHDRAWAL: _withdrawal,
    DocumentKind.LIQUIDATION: _liquidation,
}
