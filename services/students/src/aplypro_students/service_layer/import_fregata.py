"""Imports one establishment from FREGATA (imports.md §3.2) through the same path as a CSV file.

The inscriptions (those of MENJ learners hosted here, `estEN`, dropped first) are put in the students
file's columns, normalised by the same row normaliser and imported by `import_students`: the same data
gives the same state and events as the CSV import. The HTTP call happens before the transaction opens.
Partial mode: a student absent from the answer is not closed until the mass-departure guard exists (§5.6).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Protocol

import asyncpg
import structlog

from aplypro_students.adapters import postgres
from aplypro_students.adapters.csv_students import parse_student_rows
from aplypro_students.adapters.fregata import normalise
from aplypro_students.adapters.sygne.normalise import with_known_first_names
from aplypro_students.service_layer.import_report import SourceReport, entry, valid_ine
from aplypro_students.service_layer.import_students import ImportStudents, ImportSummary, import_students

log = structlog.get_logger(__name__)
SOURCE = "fregata"


class FregataApi(Protocol):
    async def inscriptions(self, uai: str, school_year: int) -> list[dict[str, Any]]: ...


@dataclass
class FregataReport(SourceReport):
    source: ClassVar[str] = SOURCE


class _DryRun(Exception):
    """Raised inside the transaction of a dry run: it rolls everything back, outbox rows included."""


async def import_fregata(pool: asyncpg.Pool, api: FregataApi, uai: str, school_year: int, *, today: date,
                         topic: str, dry_run: bool = False) -> FregataReport:
    """One establishment and year; ApiUnavailable / ApiAuthFailed / InvalidFile propagate (nothing written)."""
    report = FregataReport(uai, school_year, dry_run=dry_run)
    served = await api.inscriptions(uai, school_year)
    entries = [(n, e) for n, e in enumerate(served, start=1) if not normalise.hosted_for_menj(e)]
    rows = [(n, normalise.cells(e, uai=uai, school_year=school_year)) for n, e in entries]
    ines = {n: ine for n, cells in rows if (ine := valid_ine(cells["ine"])) is not None}
    # the request names the year: an entry of another one is FREGATA's mistake, never imported under ours
    report.skipped += [entry(ines.get(n), "annee_scolaire.mismatch") for n, cells in rows
                       if cells["annee_scolaire"] != str(school_year)]
    rows = [(n, cells) for n, cells in rows if cells["annee_scolaire"] == str(school_year)]
    report.warnings += [entry(ines.get(n), "statut.other") for n, e in entries  # stored, shown, never paid
                        if normalise.status_code(e) in normalise.OTHER]
    report.warnings += [{"ine": ine, "reason": "duplicate_ine", "count": count}
                        for ine, count in Counter(ines[n] for n, _ in rows if n in ines).items() if count > 1]
    async with pool.acquire() as conn, conn.transaction():
        known = {ine: identity for ine, (_, identity) in
                 (await postgres.students_by_ine(conn, sorted(set(ines.values())))).items()}
    # FREGATA gives the usual first name only: the others a CSV file gave are kept when it is the first one
    rows = [(n, with_known_first_names(cells, known[ines[n]]) if ines.get(n) in known else cells)
            for n, cells in rows]
    parsed = parse_student_rows(rows, uai=uai)
    command = ImportStudents(uai, parsed.records, parsed.errors, parsed.warnings, "partial",
                             accept_valid_rows=True, source=SOURCE)
    summary = await _import(pool, command, today=today, topic=topic, dry_run=dry_run)
    report.add_import(summary, ines)
    log.info("fregata_imported", uai=uai, school_year=school_year, served=len(served),
             hosted_for_menj=len(served) - len(entries), skipped=len(report.skipped),
             warnings=len(report.warnings), dry_run=dry_run, **report.summary)
    return report


async def _import(pool: asyncpg.Pool, command: ImportStudents, *, today: date, topic: str,
                  dry_run: bool) -> ImportSummary:
    """One transaction: state, import report and outbox rows; a dry run rolls it all back."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            summary = await import_students(conn, command, today=today, topic=topic)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return summary
