"""The SYGNE detail lane (imports.md §5.7, §9): applies the details import-all queued, in the service process.

import-all imports the list at once and queues the students whose detail it needs (first seen, moved). The lane
claims due rows (`FOR UPDATE SKIP LOCKED`: two replicas never take the same row), fetches their details,
`concurrency` at a time, and applies each as import_sygne's inline path does: the list row it was queued with,
completed by the detail, through the row normaliser and `import_students` (identity events once, only what
changed), a 404 recorded as `ine_not_found`, an answer lifting an earlier one. Each row is deleted in the
transaction that applies it, so a crash loses nothing; a 429, 5xx or timeout leaves the row for later, with
an attempt counted and a growing delay; a row past its attempts stays in the queue, visible, never dropped.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import anyio
import asyncpg
import structlog
from aplypro_servicekit.db import Connection

from aplypro_students.adapters import postgres
from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiBadPayload, ApiUnavailable, IneNotFound
from aplypro_students.adapters.csv_reader import CellError, parse_date
from aplypro_students.adapters.csv_students import parse_student_rows
from aplypro_students.adapters.postgres_detail_queue import (
    QueuedDetail,
    claim_due,
    delete_done,
    give_up,
    retry_later,
)
from aplypro_students.adapters.postgres_sygne import schoolings_in
from aplypro_students.adapters.sygne import normalise
from aplypro_students.domain.report import InvalidFile
from aplypro_students.service_layer.import_students import ImportStudents, MissingReference, import_students
from aplypro_students.service_layer.import_sygne import SOURCE, SygneApi
from aplypro_students.service_layer.ine_status import record_ine_status

log = structlog.get_logger(__name__)
BY = "sygne-details"  # audit trail of the INE status


@dataclass(frozen=True)
class LanePolicy:
    batch: int = 50  # rows claimed (and held) per transaction
    concurrency: int = 16  # detail calls in flight
    rate: float = 200.0  # details a second at most, for SYGNE's rate limit
    max_attempts: int = 10  # then the row stays, given up, until an operator re-queues or deletes it
    backoff_base: float = 30.0  # seconds before the first retry, doubled at each attempt
    backoff_max: float = 3600.0

    def delay(self, attempts: int) -> float:
        """Before the next try of a row that failed `attempts` times already."""
        return float(min(self.backoff_max, self.backoff_base * 2 ** min(attempts, 30)))


@dataclass
class DrainReport:
    claimed: int = 0
    applied: int = 0  # details applied (their rows deleted)
    not_found: int = 0  # 404: ine_not_found recorded, rows deleted
    retried: int = 0  # kept for later, one attempt more
    rejected: int = 0  # applied rows the normaliser or reconciliation refused (reason codes logged)
    stale: int = 0  # list rows another import has overtaken: kept, given up, for `refresh-student`
    events: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class _Answers:
    details: dict[str, dict[str, object]] = field(default_factory=dict)
    not_found: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # INE → reason code
    refused: ApiAuthFailed | None = None


async def drain_once(pool: asyncpg.Pool, api: SygneApi, policy: LanePolicy, *, today: date, topic: str,
                     ) -> DrainReport:
    """One batch, in one transaction: claim, fetch, apply, delete or reschedule. ApiAuthFailed propagates
    (nothing written: every row stays as it was, no attempt counted)."""
    report = DrainReport()
    async with pool.acquire() as conn, conn.transaction():
        claimed = await claim_due(conn, policy.batch, policy.max_attempts)
        report.claimed = len(claimed)
        if not claimed:
            return report
        answers = await _fetch(api, claimed, policy.concurrency)
        if answers.refused is not None:
            raise answers.refused
        by_group: dict[tuple[str, int], list[QueuedDetail]] = defaultdict(list)
        for row in claimed:
            if row.ine in answers.details:
                by_group[row.uai, row.school_year].append(row)
        # The reconciliation locks of every group, before any is applied: imports take them in this order too
        # (establishment, then student keys), so the lane never holds one group's keys while it waits for
        # another establishment, and the overtaken-row check below reads what no import can change any more.
        await lock_groups(conn, {key: [normalise.with_detail(r.cells, answers.details[r.ine]) for r in rows]
                                 for key, rows in by_group.items()})  # the identity the import will read
        done: list[str] = []
        stale: list[str] = []
        for (uai, school_year), rows in sorted(by_group.items()):
            rows, outdated = await _current(conn, uai, school_year, rows)
            stale += outdated
            if not rows:
                continue
            try:
                async with conn.transaction():  # a savepoint: a group that fails is retried, not the batch
                    report.events += await _apply(conn, uai, school_year, rows, answers, report, today, topic)
            except (InvalidFile, MissingReference) as exc:
                reason = exc.errors[0].code if isinstance(exc, InvalidFile) else exc.code
                answers.failed |= dict.fromkeys((r.ine for r in rows), reason)
                continue
            except (asyncpg.PostgresError, ValueError, KeyError, TypeError) as exc:
                # any other fault of this group's data counts an attempt: the lane never loops on one batch
                log.warning("sygne_details_group_failed", uai=uai, school_year=school_year, error=type(exc).__name__)
                answers.failed |= dict.fromkeys((r.ine for r in rows), f"apply_{type(exc).__name__}")
                continue
            done += [r.ine for r in rows]
        if done:  # SYGNE answered: lift an earlier ine_not_found
            report.events += (await record_ine_status(conn, done, "found", by=BY, topic=topic)).changed
        if answers.not_found:
            report.events += (await record_ine_status(conn, answers.not_found, "not_found", by=BY,
                                                      topic=topic)).changed
        await delete_done(conn, [*done, *answers.not_found])
        await give_up(conn, stale, "stale_list_row", policy.max_attempts)
        attempts = {r.ine: r.attempts for r in claimed}
        await retry_later(conn, [(ine, policy.delay(attempts[ine]), reason) for ine, reason in answers.failed.items()])
    report.applied, report.not_found, report.retried = len(done), len(answers.not_found), len(answers.failed)
    report.stale = len(stale)
    for reason in answers.failed.values():
        report.reasons[reason] = report.reasons.get(reason, 0) + 1
    log.info("sygne_details_applied", claimed=report.claimed, applied=report.applied, not_found=report.not_found,
             retried=report.retried, rejected=report.rejected, stale=report.stale, events=report.events, reasons=report.reasons)
    return report


async def lock_groups(conn: Connection, groups: dict[tuple[str, int], list[dict[str, str]]]) -> None:
    """Every group's establishment, then every student key of them all, each in one sorted order."""
    if not groups:
        return
    people = [(cells["ine"], *(normalise.identity_key_cells(cells) or (None, None, None)))
              for rows in groups.values() for cells in rows]
    await postgres.lock_reconciliation_of_many(conn, sorted({uai for uai, _ in groups}), people)


async def _current(conn: Connection, uai: str, school_year: int, rows: list[QueuedDetail],
                   ) -> tuple[list[QueuedDetail], list[str]]:
    """(rows to apply, INEs of the stale ones). A queued list row is applied only while the student's schooling
    in that class is still what the row says: a later import may have closed it (a departure, a move made by
    another source) or dated it otherwise, and applying the old row would reopen or re-date it."""
    stored = await schoolings_in(conn, [r.ine for r in rows], uai, school_year)
    fresh, stale = [], []
    for row in rows:
        label, mef = " ".join(row.cells["classe"].split()), row.cells["code_mef"][:10]
        dates = stored.get((row.ine, label, mef))
        if dates is None or dates != (_iso(row.cells["date_debut"]), _iso(row.cells["date_fin"])):
            stale.append(row.ine)
        else:
            fresh.append(row)
    return fresh, stale


def _iso(text: str) -> str:
    """A date cell as the row normaliser reads it, in ISO form ("" stays "": open-ended)."""
    try:
        return parse_date(text.strip()).isoformat() if text.strip() else ""
    except CellError:
        return text  # refused by the normaliser anyway


async def _apply(conn: Connection, uai: str, school_year: int, rows: list[QueuedDetail], answers: _Answers,
                 report: DrainReport, today: date, topic: str) -> int:
    """The queued list rows completed by their details, imported as import_sygne's inline path does."""
    cells = [normalise.with_detail(r.cells, answers.details[r.ine]) for r in rows]
    parsed = parse_student_rows(list(enumerate(cells, start=1)), uai=uai)
    summary = await import_students(conn, ImportStudents(
        uai, parsed.records, parsed.errors, parsed.warnings, "partial", accept_valid_rows=True, source=SOURCE,
        school_year=school_year), today=today, topic=topic)
    report.rejected += len(summary.rejected)
    for error in summary.rejected:
        report.reasons[error.code] = report.reasons.get(error.code, 0) + 1
    return summary.events


async def _fetch(api: SygneApi, rows: list[QueuedDetail], concurrency: int) -> _Answers:
    answers = _Answers()
    limiter = anyio.CapacityLimiter(max(1, concurrency))

    async def one(ine: str) -> None:
        async with limiter:
            try:
                answers.details[ine] = await api.student(ine)
            except IneNotFound:
                answers.not_found.append(ine)
            except (ApiUnavailable, ApiBadPayload) as exc:
                answers.failed[ine] = f"detail_{exc.code}"
            except ApiAuthFailed as exc:
                answers.refused = exc

    async with anyio.create_task_group() as group:
        for row in rows:
            group.start_soon(one, row.ine)
    return answers


async def run_lane(pool: asyncpg.Pool, api: SygneApi, policy: LanePolicy, *, topic: str, today: Callable[[], date],
                   idle_s: float = 5.0) -> None:
    """Drains the queue for ever, at most `policy.rate` details a second; sleeps `idle_s` when nothing is due."""
    while True:
        started = time.monotonic()
        try:
            report = await drain_once(pool, api, policy, today=today(), topic=topic)
        except ApiAuthFailed as exc:
            log.error("sygne_details_refused", reason=exc.code, retry_in_s=policy.backoff_base)
            await anyio.sleep(policy.backoff_base)
            continue
        if report.claimed == 0:
            await anyio.sleep(idle_s)
            continue
        await anyio.sleep(max(0.0, report.claimed / policy.rate - (time.monotonic() - started)))
