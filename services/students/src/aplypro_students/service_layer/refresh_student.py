"""Refreshes one student from SYGNE now (imports.md §5.7): the detail's identity, birthplace and address,
and the history's dates of the schoolings we know, through the same reconciliation as an import.

The history rewrites known schoolings (matched by UAI, year, class and MEF) and ignores unknown ones; the
detail's current schooling, dated by the history, opens if we do not have it yet (a class change), except
during the summer freeze, when next year's classes may already show. A 404 records `ine_not_found`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import structlog

from aplypro_students.adapters.api_errors import IneNotFound
from aplypro_students.adapters.csv_students import parse_ine, parse_student_rows
from aplypro_students.adapters.postgres_detail_queue import delete_done
from aplypro_students.adapters.postgres_reference import known_establishments
from aplypro_students.adapters.postgres_refresh import SchoolingKey, schooling_keys_of, student_exists
from aplypro_students.adapters.sygne import normalise
from aplypro_students.service_layer.import_students import ImportStudents, import_students
from aplypro_students.service_layer.import_sygne import SygneApi, in_summer_freeze
from aplypro_students.service_layer.ine_status import record_ine_status

log = structlog.get_logger(__name__)
BY = "sygne-refresh"  # audit trail of the INE status


@dataclass
class RefreshReport:
    ine_status: str = "ok"  # "not_found": SYGNE answered 404
    known: bool = False  # a student of ours before the refresh
    schoolings: int = 0  # history entries applied
    ignored: int = 0  # history entries of schoolings we do not know (§5.7)
    changed: int = 0  # identities changed
    schoolings_written: int = 0
    events: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"reason"}: never the INE (the caller has it)

    def as_dict(self) -> dict[str, Any]:
        return {"source": "sygne", "ine_status": self.ine_status, "known": self.known, "schoolings": self.schoolings,
                "ignored": self.ignored, "changed": self.changed, "schoolings_written": self.schoolings_written,
                "events": self.events, "skipped": self.skipped}


async def refresh_student(pool: asyncpg.Pool, api: SygneApi, ine_text: str, *, today: date, topic: str,
                          summer_freeze: bool = True) -> RefreshReport:
    """CellError for a malformed INE; ApiUnavailable / ApiAuthFailed propagate (nothing written)."""
    ine = parse_ine(ine_text.strip())
    report = RefreshReport()
    try:
        detail = await api.student(ine)
        history = await api.history(ine)
    except IneNotFound:
        report.ine_status = "not_found"
        async with pool.acquire() as conn, conn.transaction():
            report.known = await student_exists(conn, ine)
            if report.known:
                report.events = (await record_ine_status(conn, [ine], "not_found", by=BY, topic=topic)).changed
            await delete_done(conn, [ine])  # a queued detail (import-all) is settled: SYGNE answered
        log.info("student_refreshed", ine_status="not_found", known=report.known, events=report.events)
        return report
    async with pool.acquire() as conn, conn.transaction():
        report.known = await student_exists(conn, ine)
        known = await schooling_keys_of(conn, ine)
        current = None if summer_freeze and in_summer_freeze(today) else _current(detail)
        groups = _rows(ine, detail, history, known, current, report)
        for uai in sorted({u for u, _ in groups} - await known_establishments(conn, sorted({u for u, _ in groups}))):
            report.skipped.append({"reason": "uai.unknown"})
            groups = {k: v for k, v in groups.items() if k[0] != uai}
        # oldest first, so the current schooling is the last opened and closes the others by §5.5
        for (uai, _year), rows in sorted(groups.items(), key=lambda g: (g[0][1], min(c["date_debut"] for c in g[1]))):
            parsed = parse_student_rows(list(enumerate(rows, start=1)), uai=uai)
            summary = await import_students(conn, ImportStudents(
                uai, parsed.records, parsed.errors, parsed.warnings, "partial", accept_valid_rows=True,
                source="sygne"), today=today, topic=topic)
            report.changed += summary.changed + summary.new
            report.schoolings_written += summary.schoolings_written
            report.events += summary.events
            report.skipped += [{"reason": e.code} for e in summary.rejected]
        if report.known:  # SYGNE answered: lift an earlier ine_not_found
            report.events += (await record_ine_status(conn, [ine], "found", by=BY, topic=topic)).changed
        await delete_done(conn, [ine])  # a queued detail (import-all), given up or not, is settled
    log.info("student_refreshed", ine_status="ok", known=report.known, schoolings=report.schoolings,
             ignored=report.ignored, events=report.events, skipped=len(report.skipped))
    return report


def _key(uai: str, year: str, label: str, mef: str) -> SchoolingKey | None:
    return (uai.upper(), int(year), " ".join(label.split()), mef[:10]) if year.isdigit() and label else None


def _current(detail: dict[str, Any]) -> tuple[str, str, str] | None:
    """(UAI, class, MEF) of the detail's current schooling; it has no year: the history's latest match dates it."""
    now = detail.get("scolarite")
    if not isinstance(now, dict):
        return None
    key = _key(normalise.text(now.get("codeUai")), "0", normalise.text(now.get("classe")),
               normalise.text(now.get("codeMefRatt")) or normalise.text(now.get("codeMef")))
    return None if key is None else (key[0], key[2], key[3])


def _rows(ine: str, detail: dict[str, Any], history: list[dict[str, Any]], known: set[SchoolingKey],
          current: tuple[str, str, str] | None, report: RefreshReport,
          ) -> dict[tuple[str, int], list[dict[str, str]]]:
    """History entries as the students file's cells, by (UAI, year): known schoolings and the current one."""
    identity = {"ine": ine, "nom": detail.get("nomUsage"), "prenom": detail.get("prenom1"),
                "dateNaissance": detail.get("dateNaissance"), "codeSexe": detail.get("codeSexe")}
    entries = []
    for entry in history:
        cells = normalise.with_detail(normalise.list_cells({**entry, **identity}), detail)
        entries.append((_key(cells["uai"], cells["annee_scolaire"], cells["classe"], cells["code_mef"]), cells))
    matching = [(cells["date_debut"], key) for key, cells in entries if key and (key[0], key[2], key[3]) == current]
    latest = max(matching)[1] if matching else None  # the current schooling, dated by the history
    groups: dict[tuple[str, int], list[dict[str, str]]] = defaultdict(list)
    for key, cells in entries:
        if key is None or (key not in known and key != latest):
            report.ignored += 1
            continue
        report.schoolings += 1
        groups[key[0], key[1]].append(cells)
    if current is not None and latest is None:
        report.skipped.append({"reason": "current_schooling.undated"})  # no history entry gives its start
    return dict(groups)
