"""One address-correction file (asp-exchange.md §4.9) for the PFMPs an operator chose, built, validated and
handed over like a payment file; no payment request changes state.

1. Each PFMP's latest request is read; a PFMP that cannot be corrected at all (unknown, never integrated by the
   ASP so no ids, data missing) refuses the whole command (CorrectionRefused): nothing is asked, nothing built.
2. RNVP normalises the address of each student living in France; one RNVP has nothing for is left out and
   reported (`not_sent`), as is a record our XSD refuses (§4.8). A student abroad: CorrectionEtranger.
3. Under the build lock, within the day's file cap (§3.4: correction files count with payment files) and the
   week's record cap, the file is stored in `asp_files` (kind `address_correction`) with its records; then the
   handover (service_layer/handover.py) puts it in the drop folder exactly once, whatever crash happens: a
   correction file a crash left behind goes with the next `send` or `correction-file` (which hands over
   correction files only: payment files keep to the send window). Its upload moves no request: none is bound
   to it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import structlog
from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters import corrections_repo, file_drop, send_repo, transfers_repo
from aplypro_asp_gateway.adapters import requests_repo as repo
from aplypro_asp_gateway.adapters.local_folder import LocalFolderTransport
from aplypro_asp_gateway.adapters.transfers_repo import HandedOver
from aplypro_asp_gateway.adapters.xml_file import PaymentFile
from aplypro_asp_gateway.domain import correction
from aplypro_asp_gateway.domain.errors import CorrectionRefused, RecordBuildError, RnvpUnavailable
from aplypro_asp_gateway.domain.model import Blocked, CorrectionRecord, Parametrage, PendingRequest
from aplypro_asp_gateway.domain.rnvp import Rnvp, RnvpAnswer, RnvpQuery
from aplypro_asp_gateway.domain.schedule import SkipReason
from aplypro_asp_gateway.service_layer.build import PARIS, BuildOptions, lock_build, store_file, validated
from aplypro_asp_gateway.service_layer.handover import hand_over_pending

log = structlog.get_logger(__name__)
KIND = "address_correction"
UNKNOWN_PFMP = "unknown_pfmp"


@dataclass(frozen=True)
class NotSent:
    pfmp_id: UUID
    payment_request_id: UUID
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CorrectionResult:
    file_name: str | None  # None: nothing left to send, or a cap reached (`skipped`)
    records: int
    sha256: str | None = None
    not_sent: list[NotSent] = field(default_factory=list)
    handed_over: HandedOver | None = None  # None for a dry run, or when another instance holds the handover
    skipped: SkipReason | None = None
    dry_run: bool = False


async def send_correction_file(pool: asyncpg.Pool, options: BuildOptions, pfmp_ids: Sequence[UUID],
                               rnvp: Rnvp | None, *, dry_run: bool = False,
                               now: datetime | None = None) -> CorrectionResult:
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn:
        requests = await corrections_repo.latest_requests(conn, pfmp_ids)
    refuse_ineligible(pfmp_ids, requests, options.params)
    chosen = [requests[p] for p in dict.fromkeys(pfmp_ids)]
    answers = await normalise(chosen, rnvp)
    records, not_sent, content = await asyncio.to_thread(compose, chosen, answers, options.params, now)
    if content is None:
        return CorrectionResult(None, 0, not_sent=not_sent, dry_run=dry_run)
    sha256 = hashlib.sha256(content).hexdigest()
    async with pool.acquire() as conn:
        if dry_run:  # the name it would get now; nothing stored, nothing sent
            name = file_drop.next_name(options.token, now, await repo.latest_stamp(conn), file_drop.CORRECTION_PREFIX)
            return CorrectionResult(name, len(records), sha256, not_sent, dry_run=True)
        async with conn.transaction():
            await lock_build(conn, options.schema)
            skipped = await _capped(conn, options, now, len(records))
            if skipped is not None:
                log.info("correction_file_not_built", reason=skipped)
                return CorrectionResult(None, 0, not_sent=not_sent, skipped=skipped)
            name = await store_file(conn, options, now, content, len(records), prefix=file_drop.CORRECTION_PREFIX,
                                    kind=KIND)
            await corrections_repo.insert_records(conn, name, records)
        log.info("correction_file_built", file_name=name, records=len(records), not_sent=len(not_sent))
        transport = options.transport or LocalFolderTransport(options.outbox_dir)
        # Correction files only: a payment file a crash left behind goes with `send`, inside the send window.
        await hand_over_pending(conn, transport, topic=options.topic, grouping=options.grouping, at=now,
                                kind=KIND)
        handed = await transfers_repo.handed_over(conn, [name])
    written = handed[0] if handed and handed[0].outcome else None
    return CorrectionResult(name, len(records), sha256, not_sent, handed_over=written)


def refuse_ineligible(pfmp_ids: Sequence[UUID], requests: dict[UUID, PendingRequest], params: Parametrage) -> None:
    refusals = {str(p): (UNKNOWN_PFMP,) if p not in requests else correction.refusal_reasons(requests[p], params)
                for p in pfmp_ids}
    refused = {p: reasons for p, reasons in refusals.items() if reasons}
    if refused:
        raise CorrectionRefused(f"{len(refused)} PFMP(s) cannot be in an address-correction file", refused)


async def normalise(requests: Sequence[PendingRequest], rnvp: Rnvp | None) -> dict[UUID, RnvpAnswer | None]:
    """RNVP's answer for each student living in France (§4.9), one query each; none asked for the others."""
    in_france = [r for r in requests if correction.lives_in_france(r)]
    if in_france and rnvp is None:
        raise RnvpUnavailable("students living in France are normalised by RNVP first: APLYPRO_ASP_RNVP_URL is not set")
    answers: dict[UUID, RnvpAnswer | None] = {}
    for request in in_france:
        assert rnvp is not None
        assert request.student is not None
        student = request.student
        lines = [*student.address_lines[:2], None, None]
        answers[request.pfmp_id] = await rnvp.normalise(RnvpQuery(
            id=str(request.pfmp_id), ligne2=lines[0], ligne3=lines[1], code_postal=student.postal_code,
            code_insee=student.city_insee, localite=student.city_name))
    return answers


def compose(requests: Sequence[PendingRequest], answers: dict[UUID, RnvpAnswer | None], params: Parametrage,
            now: datetime) -> tuple[list[CorrectionRecord], list[NotSent], bytes | None]:
    """The records that can leave, the PFMPs left out with their reasons, and the validated bytes. CPU work."""
    file = PaymentFile(params, now.astimezone(PARIS).date(), correction=True)
    kept: dict[int, tuple[CorrectionRecord, int]] = {}
    blocked: list[Blocked] = []
    for request in requests:
        prepared = correction.prepare_correction(request, params, answers.get(request.pfmp_id))
        if isinstance(prepared, Blocked):
            blocked.append(prepared)
            continue
        try:
            kept[prepared.record_id] = (prepared, file.add(prepared))
        except RecordBuildError as exc:
            blocked.append(Blocked(prepared.payment_request_id, (exc.code,)))
    content = validated(file, kept, blocked)  # our XSD (§4.8); a record it refuses is left out
    by_request = {r.payment_request_id: r.pfmp_id for r in requests}
    not_sent = [NotSent(by_request[b.payment_request_id], b.payment_request_id, b.reasons) for b in blocked]
    return [record for record, _ in kept.values()], not_sent, content


async def _capped(conn: Connection, options: BuildOptions, now: datetime, records: int) -> SkipReason | None:
    """The day's file cap and the week's record cap (§3.4, G6), counted with the payment files. Not the send
    window: a correction is an operator's act, run by hand (the existing system's console operation)."""
    schedule = options.schedule
    usage = await send_repo.usage(conn, *schedule.day_and_week(now))
    if usage.files_today >= schedule.files_per_day:
        return "daily_file_limit"
    if usage.records_this_week + records > schedule.records_per_week:
        return "weekly_record_limit"
    return None
