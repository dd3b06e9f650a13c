"""Building one payment file: pending requests checked, ready ones written into a file and bound to it.

Only on a send day, inside the send window, within the ASP's caps (domain/schedule.py, §3.4, G6): otherwise
nothing is built nor uploaded, and the result says why (`skipped`). The G5 watch (service_layer/answer_watch.py)
runs first, whatever the hour.

One transaction holds the file row (its frozen bytes and hash), its records (`file_records`: a request in
one file ever, one first payment per PFMP and per NUMADM) and the requests `ready`, bound to the file. The file
reaches the disk only after the commit: a file on disk whose requests were rolled back could be uploaded and
later sent again in another file (G1). The handover to the drop folder (service_layer/handover.py) survives a
crash at any step without writing a file twice, and only when it records the upload do the requests become
`sent`, with their PaymentRequestSent (service_layer/uploads.py). Each request bound to the file is announced
`ready` in the build's transaction (PaymentRequestStateChanged v3 with the RIB frozen in the file, carried in
PaymentRequestsMoved groups: service_layer/moves.py): the students
service refuses to archive that RIB from the build on (`unarchivable_rib`), not only from the upload.

A record that cannot be built (lxml refuses it) or that breaks our XSD (§4.8) is blocked alone with its
reason: the rest of the file goes out (issue 9, "poison stays local"). The file's bytes are validated
before the transaction that marks its requests sent commits: a file that fails is never handed over.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import structlog
from aplypro_contracts import PaymentRequestHeld, PaymentRequestStateChanged
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import write_outbox
from aplypro_servicekit.statistics import refresh_stale_statistics

from aplypro_asp_gateway.adapters import file_drop, send_repo, xsd
from aplypro_asp_gateway.adapters import requests_repo as repo
from aplypro_asp_gateway.adapters.transport import Transport
from aplypro_asp_gateway.adapters.xml_file import PaymentFile
from aplypro_asp_gateway.domain.creations import Creations
from aplypro_asp_gateway.domain.errors import PaymentFileInvalid, RecordBuildError, RecordSchemaError
from aplypro_asp_gateway.domain.model import (
    Blocked,
    CorrectionRecord,
    KnownIds,
    Parametrage,
    PaymentRecord,
    PendingRequest,
)
from aplypro_asp_gateway.domain.modification import prepare_request
from aplypro_asp_gateway.domain.schedule import (
    ASP_MAX_RECORDS_PER_FILE,
    REFERENCE,
    Allowance,
    SendSchedule,
    SkipReason,
    Usage,
)
from aplypro_asp_gateway.service_layer.answer_watch import watch_answers
from aplypro_asp_gateway.service_layer.handover import write_pending_files
from aplypro_asp_gateway.service_layer.moves import Grouping, move_rows

__all__ = ["BuildOptions", "BuildResult", "build_payment_file", "store_file", "validated", "write_pending_files"]

log = structlog.get_logger(__name__)

PRODUCER = "asp-gateway"
PARIS = ZoneInfo("Europe/Paris")  # DATECOMPLETUDE is the French calendar day
R = TypeVar("R", PaymentRecord, CorrectionRecord)


@dataclass(frozen=True)
class BuildOptions:
    params: Parametrage
    token: str
    outbox_dir: Path
    max_records: int
    topic: str
    schema: str
    grouping: Grouping  # a file's moves as PaymentRequestsMoved groups (service_layer/moves.py), or single events
    transport: Transport | None = None  # the drop folder (handover.transport_for); None: the outbox folder
    schedule: SendSchedule = REFERENCE  # send days, window, caps (§3.4): the reference's by default
    answer_timeout_working_days: int = 2  # G5 (§9.2)
    payment_timeout_days: int = 30


@dataclass(frozen=True)
class Composition:
    records: list[PaymentRecord]
    blocked: list[Blocked]
    content: bytes | None


@dataclass(frozen=True)
class BuildResult:
    file_name: str | None
    records: int
    blocked: int
    written: list[str]
    skipped: SkipReason | None = None  # why no file was built now (nothing checked, nothing uploaded if closed)
    capped_by: SkipReason | None = None  # the week's allowance made the file smaller than the file cap
    usage: Usage | None = None  # today's files and this week's records before this build (G6)


def prepare_all(requests: Sequence[PendingRequest], params: Parametrage) -> list[PaymentRecord | Blocked]:
    """The checks of every request, each as the variant it leaves as (first payment or modification, §8.1):
    CPU work (schwifty), run in a worker thread."""
    return [prepare_request(r, params) for r in requests]


def assemble(records: Sequence[PaymentRecord], sent_numbers: set[str], params: Parametrage,
             built_on: date, known: KnownIds | None = None) -> Composition:
    """Each record built alone first: one that lxml refuses, or whose PFMP number already left as a first
    payment (in an earlier file or earlier in this one), is blocked; so is one whose individual or dossier
    the ASP is still creating (`known`: sent, not answered) or that an earlier record of this file creates
    (§4.3); the others make the file, carrying the ASP ids already known, which is then validated against
    our XSD (`validated`). CPU work."""
    kept: dict[int, tuple[PaymentRecord, int]] = {}
    blocked: list[Blocked] = []
    seen = set(sent_numbers)
    creations = Creations(known or KnownIds())
    file = PaymentFile(params, built_on)
    for original in records:
        # A modification carries the prestation's id: the PFMP number already left, on purpose (§8.1).
        if original.first_payment and original.pfmp_number in seen:
            blocked.append(Blocked(original.payment_request_id, ("numadm_already_sent",)))
            continue
        record = creations.resolve(original)  # checked after: a record that never leaves waits for nothing
        if isinstance(record, Blocked):
            blocked.append(record)
            continue
        try:
            handle = file.add(record)
        except RecordBuildError as exc:
            blocked.append(Blocked(record.payment_request_id, (exc.code,)))
            continue
        seen.add(record.pfmp_number)
        creations.take(record)
        kept[record.record_id] = (record, handle)
    content = validated(file, kept, blocked)
    return Composition([record for record, _ in kept.values()], blocked, content)


def validated(file: PaymentFile, kept: dict[int, tuple[R, int]], blocked: list[Blocked]) -> bytes | None:
    """The file's bytes once our XSD accepts them (§4.8), or None when no record is left.

    Validated as one file (one pass in the usual case); each violation is mapped, by its position, to the
    record holding it, which leaves the file blocked as `asp_schema_invalid`; then the rest is validated again. A
    violation outside every record (PARAMETRAGE: the settings) fails the whole file: nothing is sent."""
    positions = list(kept)  # record ids in file order: a violation names a record by its position
    while kept:
        content = file.to_bytes()
        found = xsd.violations(content)  # the very bytes that leave, parsed back
        if not found:
            return content
        culprits = {positions[v.record - 1] for v in found if v.record is not None}
        if any(v.record is None for v in found):
            log.error("payment_file_schema_invalid", violations=[(v.path, v.kind) for v in found][:20])
            raise PaymentFileInvalid("the payment file breaks the schema outside its records")
        log.warning("payment_records_schema_invalid", record_ids=sorted(culprits),
                    violations=[(positions[v.record - 1], v.path, v.kind) for v in found if v.record][:20])
        for record_id in sorted(culprits):
            record, handle = kept.pop(record_id)
            file.remove(handle)
            blocked.append(Blocked(record.payment_request_id, (RecordSchemaError.code,)))
        positions = [p for p in positions if p not in culprits]
    return None


async def compose(conn: Connection, requests: Sequence[PendingRequest], params: Parametrage,
                  built_on: date) -> Composition:
    outcomes = await asyncio.to_thread(prepare_all, requests, params)
    records = [o for o in outcomes if isinstance(o, PaymentRecord)]
    sent_numbers = await repo.numbers_sent_first(conn, [r.pfmp_number for r in records])
    known = await repo.known_ids(conn, [r.student_id for r in records if r.student_id is not None])
    composition = await asyncio.to_thread(assemble, records, sent_numbers, params, built_on, known)
    blocked = [o for o in outcomes if isinstance(o, Blocked)] + composition.blocked
    return Composition(composition.records, blocked, composition.content)


async def build_payment_file(pool: asyncpg.Pool, options: BuildOptions, now: datetime | None = None) -> BuildResult:
    now = now or datetime.now(UTC)
    name: str | None = None
    async with pool.acquire() as conn:
        await watch_answers(conn, now, answer_days=options.answer_timeout_working_days,
                            payment_days=options.payment_timeout_days,
                            skip_public_holidays=options.schedule.skip_public_holidays)
        closed = options.schedule.open_at(now)
        if closed is not None:  # no file built nor uploaded: a weekend or night upload breaks the ASP's rules
            return BuildResult(None, 0, 0, [], skipped=closed.reason)
        # Tables that just grew (40,000 requests where autovacuum has not looked yet) are planned as tiny: the
        # build's read then ran for minutes in the 20,000-student drill, holding locks `poll` waits on. Analyzed
        # first, outside the build's transaction (its locks would be held to the end otherwise).
        analyzed = await refresh_stale_statistics(conn, options.schema, tables=repo.BUILD_TABLES)
        if analyzed:
            log.info("build_statistics_refreshed", tables=analyzed)
        async with conn.transaction():
            # The batch reads take thousands of ids in one array: a plan cached while the tables were small
            # ran for minutes in the 20,000-student drill where a fresh one takes 0.7 s.
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            await lock_build(conn, options.schema)
            day_start, day_end, week_start = options.schedule.day_and_week(now)
            usage = await send_repo.usage(conn, day_start, day_end, week_start)
            allowance = options.schedule.allowance(now, usage)
            composition = None
            if isinstance(allowance, Allowance):
                composition = await _build(conn, options, now, min(options.max_records, allowance.records))
                if composition.content is not None:
                    name = await _record_file(conn, options, now, composition.records, composition.content)
        # Files built and not uploaded (this one, or one a crash left behind) go whatever the caps say: they
        # are counted in `usage` already.
        written = await write_pending_files(conn, options.transport or options.outbox_dir, topic=options.topic,
                                            grouping=options.grouping, at=now)
    if not isinstance(allowance, Allowance):
        log.info("payment_file_not_built", reason=allowance.reason, files_today=usage.files_today,
                 records_this_week=usage.records_this_week)
        return BuildResult(None, 0, 0, written, skipped=allowance.reason, usage=usage)
    assert composition is not None
    if composition.blocked:
        reasons = Counter(r for b in composition.blocked for r in b.reasons)
        log.info("payment_requests_blocked", count=len(composition.blocked), reasons=dict(reasons))
    return BuildResult(name, len(composition.records), len(composition.blocked), written,
                       capped_by=allowance.capped_by, usage=usage)


async def _build(conn: Connection, options: BuildOptions, now: datetime, allowed: int) -> Composition:
    """Pending requests checked (blocked ones keep their reasons), and the file's records and bytes."""
    limit = min(allowed, ASP_MAX_RECORDS_PER_FILE)
    # A budget programme switched on or off since the last build: pending requests are checked again.
    flagged = await repo.sync_funding(conn, options.params.funding_off)
    if flagged:
        log.info("funding_switch_changed", rechecked=flagged, off=sorted(options.params.funding_off))
    if not options.params.negative_rectification_blocked:
        await repo.release_negative_rectifications(conn)  # §8.2 lifted: parked ones leave now
    requests = await repo.pending_requests(conn, limit=limit)
    built_on = now.astimezone(PARIS).date()
    composition = await compose(conn, requests, options.params, built_on)
    held = await repo.record_blocked(conn, composition.blocked)
    await write_outbox(conn, move_rows(options.topic, [_held(row) for row in held], options.grouping))
    return composition


def _held(row: Any) -> PaymentRequestHeld:
    """A request whose blocking reasons changed: shown by other services (words: aplypro_contracts.reasons)."""
    return PaymentRequestHeld(
        producer=PRODUCER, payment_request_id=row["payment_request_id"], pfmp_id=row["pfmp_id"],
        student_id=row["student_id"], reasons=tuple(row["blocking_reasons"]), correlation_id=row["correlation_id"],
        causation_id=row["requested_event_id"], version=row["event_version"])


def _ready(row: Any) -> PaymentRequestStateChanged:
    """A request built into a file: `ready`, with the RIB frozen in it."""
    return PaymentRequestStateChanged(
        producer=PRODUCER, payment_request_id=row["payment_request_id"], pfmp_id=row["pfmp_id"],
        student_id=row["student_id"], state="ready", rib_id=row["rib_id"], correlation_id=row["correlation_id"],
        causation_id=row["requested_event_id"], version=row["event_version"])


async def store_file(conn: Connection, options: BuildOptions, now: datetime, content: bytes, records: int, *,
                     prefix: str = file_drop.PAYMENT_PREFIX, kind: str = "payment") -> str:
    """A name never used before (§3.2) and the file's frozen bytes and hash under it, in the caller's transaction
    (under the build lock: names are chosen from the latest one issued). The handover takes it from there."""
    latest = max((s for s in (await repo.latest_stamp(conn),
                              file_drop.latest_on_disk(options.outbox_dir, options.token)) if s), default=None)
    name = file_drop.next_name(options.token, now, latest, prefix)
    stamp = file_drop.stamp_of(name)
    assert stamp is not None  # next_name always yields a stamped name
    await repo.insert_file(conn, name, stamp, content, hashlib.sha256(content).hexdigest(), records, kind)
    return name


async def lock_build(conn: Connection, schema: str) -> None:
    """One builder at a time per schema (payment or correction file): file names are chosen from the latest one
    issued, and the caps are counted under this lock (G6). Transaction-scoped."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"asp-build:{schema}")


async def _record_file(conn: Connection, options: BuildOptions, now: datetime,
                       records: list[PaymentRecord], content: bytes) -> str:
    name = await store_file(conn, options, now, content, len(records))
    await repo.insert_file_records(conn, name, records)
    # `ready` until the upload is recorded: `sent` and its event come with that record (uploads.py, G2). The RIB
    # is frozen in the file now: announced in this transaction, so that students refuses to archive it from here
    # (unarchivable_rib), not only from the upload.
    bound = await send_repo.bind_to_file(conn, name, [(r.payment_request_id, r.rib_id) for r in records])
    await write_outbox(conn, move_rows(options.topic, [_ready(row) for row in bound], options.grouping,
                                       file_name=name))
    log.info("payment_file_built", file_name=name, records=len(records), bytes=len(content))
    return name
