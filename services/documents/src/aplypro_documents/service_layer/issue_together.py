"""A batch's documents built together: what its jobs read, read once per kind of input; the rules in Python.

The issuer's per-document path (issue.DecisionIssuer._content) reads each document's inputs in its own round
trips under its own savepoint. Here `read_inputs` reads them for the whole batch (a handful of statements,
whatever the batch size) and `build` applies the very same rules to one document from those rows, without
I/O: a broken rule raises from plain Python, so it needs no savepoint to spare the rest of the batch.

The inputs are read before any document of the batch is built, while the per-document path reads each one
after the documents before it were built. Building writes nothing these reads see (documents are written
after the batch is built), except one thing: a queued retrait that leaves the queue (dead-lettered) before
an état liquidatif of the same schooling is built. So the retrait's two parts are read apart, and `build`
is told whether an earlier document of the batch took the queued retrait away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import PfmpNumber
from aplypro_servicekit.db import Connection

from aplypro_documents.adapters import postgres, postgres_decisions, postgres_liquidation
from aplypro_documents.domain.decisions import SchoolingSpan, newer_schooling
from aplypro_documents.domain.model import Document, DocumentKind
from aplypro_documents.domain.numbering import next_version, pfmp_number
from aplypro_documents.service_layer.content import (
    abrogation_from,
    attribution_from,
    input_hash,
    liquidation_from,
    withdrawal_from,
)

log = structlog.get_logger("aplypro_documents.service_layer.issue")  # the per-document path's log lines
K = DocumentKind


@dataclass(frozen=True, slots=True)
class BatchInputs:
    """What a batch's documents are built from, beside their claimed queue rows."""

    current: dict[tuple[UUID, str], dict[str, Any]]  # (schooling, kind) → its highest version issued
    withdrawals: dict[UUID, tuple[bool, bool]]  # état liquidatif's schooling → (retrait issued, retrait queued)
    pfmps: dict[UUID, list[dict[str, Any]]]  # état liquidatif's schooling → its requested PFMPs
    spans: dict[UUID, list[SchoolingSpan]]  # abrogation's student → every schooling of theirs


@dataclass(slots=True)
class Built:
    """One document's outcome: `doc` None when there is nothing to issue (no longer due, issued, unchanged)."""

    doc: Document | None
    extra: dict[str, Any] = field(default_factory=dict)  # what the documents row and DocumentIssued add
    numbers: dict[UUID, str] = field(default_factory=dict)  # PFMP numbers given now, to store (§4)
    unchanged: bool = False  # a DA reissue skipped: same content as the current version


async def read_inputs(conn: Connection, jobs: list[tuple[DocumentKind, dict[str, Any]]]) -> BatchInputs:
    """One statement per kind of input the batch's jobs need (at most four)."""
    liquidations = [row["schooling_id"] for kind, row in jobs if kind is K.LIQUIDATION]
    students = list({row["student_id"]: None for kind, row in jobs if kind is K.ABROGATION})
    return BatchInputs(
        current=await postgres.current_documents(conn, [(row["schooling_id"], str(kind)) for kind, row in jobs]),
        withdrawals=await postgres_decisions.withdrawals(conn, liquidations) if liquidations else {},
        pfmps=await postgres_liquidation.requested_pfmps(conn, liquidations) if liquidations else {},
        spans=await postgres_decisions.student_schoolings(conn, students) if students else {},
    )


def build(kind: DocumentKind, row: dict[str, Any], inputs: BatchInputs, today: date,
          programmes: Mapping[str, str], *, retrait_taken: bool = False) -> Built:
    """issue.DecisionIssuer._content's rules, from the batch's inputs. `retrait_taken`: an earlier document of
    the batch took this schooling's queued retrait off the queue (module docstring)."""
    schooling_id = row["schooling_id"]
    current = inputs.current.get((schooling_id, str(kind)))
    if kind is K.ATTRIBUTION:
        return _attribution(row, current, today)
    version = (current["version"] if current else 0) + 1
    if kind is K.WITHDRAWAL:
        return Built(withdrawal_from(row, today) if version == 1 else None)  # a DA is withdrawn once
    if kind is K.ABROGATION:
        spans = inputs.spans[row["student_id"]]
        this = next(span for span in spans if span.schooling_id == schooling_id)
        newer = newer_schooling(this, spans, today)
        if newer is None or version > 1:  # superseded no more, or abrogated already: abrogated once
            log.info("abrogation_dropped", schooling_id=str(schooling_id), reason="not_due" if newer is None
                     else "already_abrogated")  # fmt: skip
            return Built(None)
        return Built(abrogation_from(row, newer, today, version))
    issued, queued = inputs.withdrawals[schooling_id]
    if issued or (queued and not retrait_taken):
        log.info("liquidation_dropped", schooling_id=str(schooling_id), reason="decision_withdrawn")
        return Built(None)  # no état liquidatif certifies a payment on a withdrawn DA (documents.md §5.3)
    pfmps = inputs.pfmps[schooling_id]
    if not pfmps:
        return Built(None)  # every requested PFMP was deleted
    # PFMP numbers are built from the DA current when first needed, stored, and never change (§4).
    numbers = {p["pfmp_id"]: pfmp_number(row["decision_number"], p["rank"]) for p in pfmps if not p["pfmp_number"]}
    pfmps = [{**p, "pfmp_number": p["pfmp_number"] or numbers[p["pfmp_id"]]} for p in pfmps]
    # Announced with the document: the asp-gateway sends exactly the numbers printed here (§4).
    extra: dict[str, Any] = {"pfmp_numbers": [PfmpNumber(pfmp_id=p["pfmp_id"], number=p["pfmp_number"])
                                              for p in pfmps]}  # fmt: skip
    doc = liquidation_from(row, pfmps, programmes, version)
    extra["input_sha256"] = input_hash(doc)
    if current is not None and extra["input_sha256"] == current["input_sha256"]:
        log.info("liquidation_unchanged", schooling_id=str(schooling_id), version=version - 1)
        return Built(None, extra, numbers)  # the numbers are stored all the same, as the per-document path does
    return Built(doc, extra, numbers)


def _attribution(row: dict[str, Any], current: dict[str, Any] | None, today: date) -> Built:
    """Version 1, or on a reissue the next version, unless its content equals the current one's (§4, §6)."""
    schooling_id = row["schooling_id"]
    if current is None:
        doc = attribution_from(row, today)
    elif not (row["detail"] or {}).get("reissue"):
        log.info("attribution_dropped", schooling_id=str(schooling_id), reason="already_issued")
        return Built(None)
    else:
        # The same content at the current version hashes as issued: a reissue would waste a version.
        if input_hash(attribution_from(row, today, current["version"])) == current["input_sha256"]:
            log.info("attribution_reissue_unchanged", schooling_id=str(schooling_id), number=current["number"],
                     version=current["version"])  # fmt: skip
            return Built(None, unchanged=True)
        # Past version 9 the number has no digit left: VersionLimitReachedError, dead-lettered at once.
        doc = attribution_from(row, today, next_version(current["version"]))
    return Built(doc, {"input_sha256": input_hash(doc)})
