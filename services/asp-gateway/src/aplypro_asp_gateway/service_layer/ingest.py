"""Ingesting the ASP's return files (asp-exchange.md §5, §9.2 G3/G4) into the payment-request life cycle.

One transaction per file: the file remembered by name and hash (the same bytes again change nothing), each
line matched to what was sent (domain/return_match.py), the requests moved forward only from the state they
were decided in, one PaymentRequestStateChanged per move in the outbox (grouped: service_layer/moves.py) with
the gateway's per-request version, and every line that matched nothing kept in `unmatched_return_lines`.

A file the readers refuse whole (truncated, malformed, an unknown name: G7) changes nothing and is not
remembered: the complete file, other bytes under the same name, is read again at the next poll. A payment
file naming a prestation not integrated yet while some requests still wait for their answer is deferred
once (G4): read again, whole, at the next poll, after that poll's answers. Address-correction answers (§5.5)
move nothing: each line is checked against the ids held and kept in `address_correction_returns`. Every move
wakes the student's pending requests: an integration gives the ids a waiting record needs (§4.3), a payment
or recovery answer tells a waiting rectification what the ASP paid (§8.1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import asyncpg
import structlog
from aplypro_contracts import PaymentRequestStateChanged
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import write_outbox

from aplypro_asp_gateway.adapters import merges_repo, send_repo
from aplypro_asp_gateway.adapters import returns_repo as repo
from aplypro_asp_gateway.adapters.returns import ReturnFileRefused, read_return_bytes
from aplypro_asp_gateway.adapters.returns.detect import kind_from_name
from aplypro_asp_gateway.domain import address_corrections as corrections
from aplypro_asp_gateway.domain.address_corrections import check_corrections
from aplypro_asp_gateway.domain.return_lines import CSV_KINDS, ReturnFile, ReturnKind
from aplypro_asp_gateway.domain.return_match import Outcome, decide_answers, decide_payments
from aplypro_asp_gateway.service_layer.moves import Grouping, move_rows
from aplypro_asp_gateway.service_layer.uploads import record_upload

log = structlog.get_logger(__name__)

PRODUCER = "asp-gateway"
CORRECTION_KINDS = frozenset({ReturnKind.CORRECTION_INTEGRATIONS, ReturnKind.CORRECTION_REJECTS})
FileOutcome = Literal["ingested", "already_ingested", "refused", "deferred"]


@dataclass(frozen=True)
class IncomingReturn:
    """One return file as fetched: its base name and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class IngestResult:
    file_name: str
    outcome: FileOutcome
    kind: str | None = None
    lines: int = 0
    applied: int = 0
    duplicates: int = 0
    unmatched: int = 0
    events: int = 0
    refused_code: str | None = None
    refused_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The line `poll` prints: counts matched / unmatched / refused, never a value read from the file."""
        out: dict[str, Any] = {
            "file": self.file_name, "kind": self.kind, "outcome": self.outcome, "lines": self.lines,
            "matched": self.applied + self.duplicates, "applied": self.applied, "duplicates": self.duplicates,
            "unmatched": self.unmatched, "refused": int(self.outcome == "refused"), "events": self.events}
        if self.refused_code:
            out["reason_code"], out["reason"] = self.refused_code, self.refused_reason
        return out


def answers_first(incoming: Iterable[IncomingReturn]) -> list[IncomingReturn]:
    """Integration and reject answers before payment and recovery returns (G4): a payment names a prestation
    that only an integration line makes known. Then by name, which carries the day."""
    def rank(item: IncomingReturn) -> tuple[int, str]:
        detected = kind_from_name(item.name)
        return (0 if detected and detected.kind in CSV_KINDS else 1 if detected else 2), item.name
    return sorted(incoming, key=rank)


async def ingest_all(pool: asyncpg.Pool, incoming: Iterable[IncomingReturn], *, topic: str, schema: str,
                     grouping: Grouping) -> list[IngestResult]:
    return [await ingest_return(pool, item, topic=topic, schema=schema, grouping=grouping)
            for item in answers_first(incoming)]


async def ingest_return(pool: asyncpg.Pool, incoming: IncomingReturn, *, topic: str, schema: str,
                        grouping: Grouping) -> IngestResult:
    try:
        # Names only (G7): a file whose name is not one of §3.2 is never parsed as a payment return.
        parsed = await asyncio.to_thread(read_return_bytes, incoming.name, incoming.data, False)
    except ReturnFileRefused as refused:
        log.warning("return_file_refused", file_name=incoming.name, code=refused.code, line_no=refused.line_no)
        return IngestResult(incoming.name, "refused", refused_code=refused.code, refused_reason=refused.reason)
    async with pool.acquire() as conn, conn.transaction():
        await repo.lock_ingest(conn, schema)
        if await repo.already_ingested(conn, parsed.name, parsed.sha256):
            log.info("return_file_already_ingested", file_name=parsed.name)
            return IngestResult(parsed.name, "already_ingested", kind=parsed.kind.value, lines=len(parsed.lines))
        if await repo.name_ingested(conn, parsed.name):
            # G3: same name, other bytes: processed (lines already applied are duplicates), operators told.
            log.warning("return_file_changed", file_name=parsed.name)
        if parsed.kind in CSV_KINDS and await send_repo.unrecorded_upload(conn, parsed.upload_name):
            # G2: an answer naming a file whose handover was not recorded proves the ASP has it: recorded now.
            assert parsed.upload_name is not None
            await record_upload(conn, parsed.upload_name, topic=topic, grouping=grouping, outcome="answered",
                                destination=None)
        outcomes = await _decide(conn, parsed)
        if _waits_for_answers(parsed, outcomes) and await repo.defer_once(conn, parsed.name, parsed.sha256):
            # Nothing applied (only the deferral is kept): the whole file is read again at the next poll.
            log.info("return_file_deferred", file_name=parsed.name)
            unknown = sum(1 for o in outcomes if o.why == "unknown_prestation")
            return IngestResult(parsed.name, "deferred", kind=parsed.kind.value, lines=len(outcomes),
                                unmatched=unknown)
        moved = await repo.move(conn, parsed.name, [o.change for o in outcomes if o.change])
        outcomes = _confirm(outcomes, {r["payment_request_id"] for r in moved})
        for conflict in await merges_repo.settle_in_flight(conn, moved):
            # ids only: the two ASP ids are in asp_individual_conflicts for the operator
            log.warning("asp_individual_conflict", code="asp_individual_conflict", in_flight=True,
                        survivor_id=str(conflict.survivor_id), merged_id=str(conflict.merged_id),
                        payment_request_id=str(conflict.payment_request_id))
        await repo.record_file(conn, parsed.name, parsed.sha256, parsed.kind.value, parsed.upload_name, outcomes)
        await write_outbox(conn, move_rows(topic, [_state_changed(row) for row in moved], grouping,
                                           file_name=parsed.name))
        # An answer gives the ids a waiting request of the student carries, or frees its creation (§4.3); a
        # payment or recovery answer tells a waiting rectification what the ASP paid (§8.1): every move wakes.
        await repo.wake_waiting(conn, [r["student_id"] for r in moved])
    result = _result(parsed, outcomes, len(moved))
    log.info("return_file_ingested", file_name=parsed.name, kind=parsed.kind.value, lines=result.lines,
             applied=result.applied, duplicates=result.duplicates, unmatched=result.unmatched)
    if result.unmatched:
        whys: dict[str, int] = {}
        for o in outcomes:
            if o.why:
                whys[o.why] = whys.get(o.why, 0) + 1
        log.warning("return_lines_unmatched", file_name=parsed.name, count=result.unmatched, why=whys)
    return result


async def _decide(conn: Connection, parsed: ReturnFile) -> list[Outcome]:
    lines = parsed.lines
    if parsed.kind in CORRECTION_KINDS:
        # §5.5: a report, no state change. Matched by the original name to our correction file, then by record
        # id within it (correction_records): an answer naming a file we never built is reported as such.
        record_ids = sorted({line.record_id for line in lines if line.record_id is not None})
        reports = check_corrections(lines, await repo.records_of_correction(conn, parsed.upload_name, record_ids),
                                    await repo.correction_file_known(conn, parsed.upload_name))
        await repo.record_corrections(conn, parsed.name, parsed.sha256, parsed.kind.value, reports)
        return corrections.outcomes(lines, reports)
    if parsed.kind in CSV_KINDS:
        record_ids = sorted({line.record_id for line in lines if line.record_id is not None})
        by_record = await repo.records_of_upload(conn, parsed.upload_name, record_ids)
        ids = [line.asp_ids for line in lines if line.asp_ids]
        held = await repo.held_ids(conn, list(by_record.values()), [i.prestation for i in ids if i.prestation],
                                   [i.individual for i in ids if i.individual], [i.dossier for i in ids if i.dossier])
        return decide_answers(lines, by_record, held, await repo.upload_known(conn, parsed.upload_name))
    prestations = sorted({line.asp_ids.prestation for line in lines if line.asp_ids and line.asp_ids.prestation})
    return decide_payments(lines, await repo.requests_of_prestations(conn, prestations))


def _waits_for_answers(parsed: ReturnFile, outcomes: Sequence[Outcome]) -> bool:
    """A payment or recovery line whose prestation no integration line gave yet (§5.5: nothing is paid before
    its integration line is applied)."""
    return parsed.kind not in CSV_KINDS and any(o.why == "unknown_prestation" for o in outcomes)


def _confirm(outcomes: Sequence[Outcome], moved: set[Any]) -> list[Outcome]:
    """A decided move the UPDATE did not make (the request left that state meanwhile) is reported, not counted."""
    return [Outcome(o.line, "unmatched", "state_changed_meanwhile")
            if o.change and o.change.payment_request_id not in moved else o for o in outcomes]


def _result(parsed: ReturnFile, outcomes: Sequence[Outcome], events: int) -> IngestResult:
    count = {s: sum(1 for o in outcomes if o.status == s) for s in ("applied", "duplicate", "unmatched")}
    return IngestResult(parsed.name, "ingested", kind=parsed.kind.value, lines=len(outcomes),
                        applied=count["applied"], duplicates=count["duplicate"], unmatched=count["unmatched"],
                        events=events)


def _state_changed(row: Any) -> PaymentRequestStateChanged:
    cents = row["paid_cents"]
    return PaymentRequestStateChanged(
        producer=PRODUCER, payment_request_id=row["payment_request_id"], pfmp_id=row["pfmp_id"],
        student_id=row["student_id"], state=row["state"], reasons=tuple(row["return_reasons"]),
        # MTNET (a recovery: the amount claimed) in euros, exact: cents / 100 as a Decimal, never a float
        paid_amount=Decimal(cents).scaleb(-2) if row["state"] == "paid" and cents is not None else None,
        recovery=row["recovery"], correlation_id=row["correlation_id"], causation_id=row["requested_event_id"],
        version=row["event_version"], rib_id=row["rib_id"])
