"""Imports one establishment from SYGNE (imports.md §3.1, §5.7) through the same path as a CSV file.

The list (plus the detail of students first seen or moved, and the history of leavers listed without a
class) is put in the students file's columns, normalised by the same row normaliser, and imported by
`import_students`: the same data gives the same state and the same events as the CSV import. HTTP calls
happen before the transaction opens; one transaction then writes state, report and outbox rows.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Literal, Protocol

import anyio
import asyncpg
import structlog

from aplypro_students.adapters import postgres
from aplypro_students.adapters.api_errors import ApiAuthFailed, ApiBadPayload, ApiUnavailable, IneNotFound
from aplypro_students.adapters.csv_students import parse_student_rows
from aplypro_students.adapters.postgres_detail_queue import delete_done, queue_details
from aplypro_students.adapters.postgres_identity import ines_looking_like_others
from aplypro_students.adapters.postgres_sygne import placements_in
from aplypro_students.adapters.sygne import normalise
from aplypro_students.domain.departures import DEFAULT_MAX_SHARE
from aplypro_students.domain.model import Identity
from aplypro_students.service_layer.import_report import SourceReport, entry, valid_ine
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.ine_status import record_ine_status

log = structlog.get_logger(__name__)
SOURCE = "sygne"
BY = "sygne-import"  # audit trail of the ine_not_found status


class SygneApi(Protocol):
    async def establishment_students(self, uai: str, school_year: int) -> list[dict[str, Any]]: ...
    async def student(self, ine: str) -> dict[str, Any]: ...
    async def history(self, ine: str) -> list[dict[str, Any]]: ...


def in_summer_freeze(today: date) -> bool:
    """1 June to 1 September (exclusive): SYGNE's data is being rolled over, imports are off (§3.1)."""
    return date(today.year, 6, 1) <= today < date(today.year, 9, 1)


@dataclass
class SygneReport(SourceReport):
    ine_not_found: int = 0  # students newly marked not_found (each 404 is also in `errors`)
    details_queued: int = 0  # students whose detail the lane will fetch (`defer_details`)
    source: ClassVar[str] = SOURCE

    def run_counts(self) -> dict[str, int]:
        return super().run_counts() | {"ine_not_found": 0 if self.dry_run else self.ine_not_found,
                                       "details_queued": 0 if self.dry_run else self.details_queued}


class _DryRun(Exception):
    """Raised inside the transaction of a dry run: it rolls everything back."""


@dataclass
class _Calls:
    """What the detail and history calls brought back, by INE."""

    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    not_found: set[str] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    refused: ApiAuthFailed | None = None  # raised once every call is done, not wrapped in an ExceptionGroup


async def import_sygne(pool: asyncpg.Pool, api: SygneApi, uai: str, school_year: int, *, today: date,
                       topic: str, summer_freeze: bool = True, concurrency: int = 8,
                       dry_run: bool = False, mode: Literal["partial", "full"] = "partial",
                       force_departures: bool = False, max_departure_share: float = DEFAULT_MAX_SHARE,
                       defer_details: bool = False) -> SygneReport:
    """One establishment and year; ApiUnavailable / ApiAuthFailed / InvalidFile / MassDeparture propagate
    (nothing written). `full`: the list is a snapshot, its absentees have left (§5.6, under the guard)."""
    report = SygneReport(uai, school_year, dry_run=dry_run)
    if summer_freeze and in_summer_freeze(today):
        report.skipped.append({"reason": "summer_freeze"})
        if not dry_run:
            async with pool.acquire() as conn:
                await postgres.record_import(conn, uuid.uuid4(), "students_sygne", uai, school_year, "skipped", {},
                                             report.skipped)
        log.info("sygne_import_skipped", uai=uai, school_year=school_year, reason="summer_freeze")
        return report
    entries = await api.establishment_students(uai, school_year)
    rows = [(n, normalise.list_cells(e)) for n, e in enumerate(entries, start=1)]
    ines = {n: ine for n, cells in rows if (ine := valid_ine(cells["ine"])) is not None}
    async with pool.acquire() as conn, conn.transaction():
        wanted = sorted(set(ines.values()))
        known = {ine: identity for ine, (_, identity) in (await postgres.students_by_ine(conn, wanted)).items()}
        placed = await placements_in(conn, wanted, uai, school_year)
        # §5.2 matches an unknown INE on an identity that includes the birth city, which only the detail has:
        # a first-seen student who looks like a stored one gets its detail now, even when the others wait
        look_alikes = await ines_looking_like_others(conn, _list_identities(rows, ines, known)) if defer_details \
            else set()
    # §5.7: the detail when a student is first seen, or shows up in another class or MEF than we have
    need_detail = {ine for n, ine in ines.items() if ine not in known or _moved(rows[n - 1][1], placed.get(ine))}
    need_history = {ine for n, ine in ines.items() if not rows[n - 1][1]["classe"]}
    calls = await _fetch(api, look_alikes if defer_details else need_detail, need_history, concurrency)
    rows = [(n, _enrich(cells, ines.get(n), known, calls, uai, school_year)) for n, cells in rows]
    report.errors += calls.errors
    report.warnings += [{"ine": ine, "reason": "duplicate_ine", "count": count}
                        for ine, count in Counter(ines.values()).items() if count > 1]
    parsed = parse_student_rows(rows, uai=uai)
    command = ImportStudents(uai, parsed.records, parsed.errors, parsed.warnings, mode,
                             accept_valid_rows=True, source=SOURCE, force_departures=force_departures,
                             # a listed student whose row is refused has not left
                             listed_ines=frozenset(ines.values()), school_year=school_year)
    try:
        async with pool.acquire() as conn, conn.transaction():
            summary = await import_students(conn, command, today=today, topic=topic,
                                            max_departure_share=max_departure_share)
            if defer_details:  # in this transaction: a student imported without its detail is always queued
                answered = {*calls.details, *calls.not_found}
                report.details_queued = await queue_details(conn, school_year, uai, {
                    ines[n]: cells for n, cells in rows if ines.get(n) in need_detail - answered})
            # a detail applied here settles the one import-all queued (its list row may be older)
            await delete_done(conn, sorted({*calls.details, *calls.not_found}))
            if calls.not_found:  # after the import: a first-seen student exists by now
                report.ine_not_found = (await record_ine_status(conn, sorted(calls.not_found), "not_found",
                                                                by=BY, topic=topic)).changed
                report.other_events += report.ine_not_found  # one StudentIneStatusChanged per change
            found = sorted(set(calls.details) & set(known))
            if found:  # a detail answered for a known student: lift an earlier ine_not_found
                report.other_events += (await record_ine_status(conn, found, "found", by=BY, topic=topic)).changed
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    report.add_import(summary, ines)
    # a 404 for an imported student is the operator's to see (its payments are blocked); a skipped row says why
    skipped = {e.get("ine") for e in report.skipped}
    report.errors += [entry(ine, IneNotFound.code) for ine in sorted(calls.not_found - skipped)]
    log.info("sygne_imported", uai=uai, school_year=school_year, listed=len(entries), details=len(need_detail),
             details_queued=report.details_queued,
             histories=len(need_history), skipped=len(report.skipped), errors=len(report.errors),
             warnings=len(report.warnings),
             detail_404=len(calls.not_found), ine_not_found=report.ine_not_found, dry_run=dry_run)
    return report


def _moved(cells: dict[str, str], placed: set[tuple[str, str]] | None) -> bool:
    """Listed in a class (a leaver without one has not moved) that is not one of its open schoolings here."""
    label = " ".join(cells["classe"].split())  # as the row normaliser will read it
    return bool(label) and (label, cells["code_mef"][:10]) not in (placed or set())


def _enrich(cells: dict[str, str], ine: str | None, known: dict[str, Identity], calls: _Calls, uai: str,
            school_year: int) -> dict[str, str]:
    if ine is None:
        return cells
    if ine in calls.histories:
        cells = normalise.with_history(cells, calls.histories[ine], uai=uai, school_year=school_year)
    if ine in calls.details:
        return normalise.with_detail(cells, calls.details[ine])
    if ine in known:
        return normalise.with_known_first_names(cells, known[ine])
    return cells


def _list_identities(rows: list[tuple[int, dict[str, str]]], ines: dict[int, str],
                     known: dict[str, Identity]) -> dict[str, tuple[str, str, date]]:
    """(last name, first first name, birth date) of each listed INE unknown to us that has them."""
    keyed = {ine: normalise.identity_key_cells(rows[n - 1][1]) for n, ine in ines.items() if ine not in known}
    return {ine: key for ine, key in keyed.items() if key is not None}


async def _fetch(api: SygneApi, details: set[str], histories: set[str], concurrency: int) -> _Calls:
    """Detail and history calls, `concurrency` at a time; a failed call is reported, the list data still counts."""
    calls = _Calls()
    limiter = anyio.CapacityLimiter(concurrency)

    async def detail(ine: str) -> None:
        async with limiter:
            try:
                calls.details[ine] = await api.student(ine)
            except IneNotFound:
                calls.not_found.add(ine)
            except (ApiUnavailable, ApiBadPayload) as exc:
                calls.errors.append({"ine": ine, "reason": f"detail_{exc.code}"})
            except ApiAuthFailed as exc:
                calls.refused = exc

    async def history(ine: str) -> None:
        async with limiter:
            try:
                calls.histories[ine] = await api.history(ine)
            except IneNotFound:
                calls.not_found.add(ine)
            except (ApiUnavailable, ApiBadPayload) as exc:
                calls.errors.append({"ine": ine, "reason": f"history_{exc.code}"})
            except ApiAuthFailed as exc:
                calls.refused = exc

    async with anyio.create_task_group() as group:
        for ine in sorted(details):
            group.start_soon(detail, ine)
        for ine in sorted(histories):
            group.start_soon(history, ine)
    if calls.refused is not None:
        raise calls.refused
    return calls
