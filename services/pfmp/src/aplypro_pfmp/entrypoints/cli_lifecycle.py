"""`aplypro-pfmp` life-cycle commands: add, edit, delete, a whole class, bulk day counts, validation of chosen
PFMPs. Each takes `--user` (internal user id, recorded in the audit trail). Refusals go to stderr as
`<who>: <code>: <message>`; exit 1 for one refused PFMP, 2 for a refused batch (nothing written)."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

import typer
from aplypro_contracts.topics import PFMP_EVENTS

from aplypro_pfmp.service_layer.class_actions import (
    ClassRef,
    ClassReport,
    record_for_class,
    set_class_day_counts,
)
from aplypro_pfmp.service_layer.lifecycle import EditPfmp, add_pfmp, delete_pfmp, edit_pfmp
from aplypro_pfmp.service_layer.validation import ValidationReport, validate_pfmps

from .transaction import all_or_nothing

PARIS = ZoneInfo("Europe/Paris")
User = Annotated[str, typer.Option("--user", help="Internal user id of who acts (audit trail).")]
Uai = Annotated[str, typer.Option(help="Establishment UAI.")]
Year = Annotated[int, typer.Option("--school-year", help="Start year of the school year (2025: 2025-2026).")]
Klass = Annotated[str, typer.Option("--class", help="Class label, as imported.")]
Start = Annotated[datetime, typer.Option("--start", formats=["%Y-%m-%d"])]
End = Annotated[datetime, typer.Option("--end", formats=["%Y-%m-%d"])]


def _class_outcome(report: ClassReport, total: int, what: str) -> None:
    for refused in report.refused:
        typer.echo(str(refused), err=True)
    if report.refused:
        typer.echo(f"nothing recorded: {len(report.refused)} of {total} {what} refused", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps({k: report.done.get(k, 0) for k in ("recorded", "edited", "unchanged")}))


def register(app: typer.Typer) -> None:
    @app.command()
    def add(schooling_id: UUID, start: Start, end: End, user: User,
            days: Annotated[int | None, typer.Option(help="Day count (may be entered later).")] = None) -> None:
        """Add one PFMP to a schooling (its internal id). The same period again edits its day count or
        changes nothing; a period sharing a day with another PFMP of the student is refused
        (`pfmp_overlaps`). Prints {"pfmp_id", "outcome", "status", "version"}."""
        recorded = all_or_nothing(
            lambda c, s: add_pfmp(c, schooling_id, start.date(), end.date(), days, user,
                                  topic=s.topic(PFMP_EVENTS)), lambda _: False)
        typer.echo(json.dumps({"pfmp_id": str(recorded.pfmp.pfmp_id), "outcome": recorded.outcome.value,
                               "status": recorded.pfmp.status.value, "version": recorded.pfmp.version}))

    @app.command()
    def edit(pfmp_id: UUID, user: User,
             start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
             end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
             days: Annotated[int | None, typer.Option(help="New day count (0 only in a rectification).")] = None,
             clear_days: Annotated[bool, typer.Option(help="Clear the day count (back to pending).")] = False,
             ) -> None:
        """Edit a PFMP's dates or day count; a paid PFMP is rectified (PfmpRectified), a PFMP whose request is
        with the ASP is refused (`pfmp_payment_ongoing`). Prints {"pfmp_id", "status", "version", "path"}."""
        command = EditPfmp(pfmp_id, user, start.date() if start else None, end.date() if end else None, days,
                           clear_days)
        edited = all_or_nothing(lambda c, s: edit_pfmp(c, command, topic=s.topic(PFMP_EVENTS)), lambda _: False)
        typer.echo(json.dumps({"pfmp_id": str(pfmp_id), "status": edited.pfmp.status.value,
                               "version": edited.pfmp.version, "path": edited.path}))

    @app.command()
    def delete(pfmp_id: UUID, user: User) -> None:
        """Delete a PFMP the ASP never integrated, with no request ongoing. Prints {"deleted", "version"}."""
        deleted = all_or_nothing(lambda c, s: delete_pfmp(c, pfmp_id, user, topic=s.topic(PFMP_EVENTS)),
                                  lambda _: False)
        typer.echo(json.dumps({"deleted": str(pfmp_id), "version": deleted.version}))

    @app.command("record-class")
    def record_class(uai: Uai, school_year: Year, klass: Klass, start: Start, end: End, user: User,
                     days: Annotated[int | None, typer.Option(help="Day count for every student.")] = None,
                     ) -> None:
        """One PFMP with the same dates for every current schooling of a class, all or nothing.
        Prints {"recorded", "edited", "unchanged"}; a refused student: every reason on stderr, exit 2."""
        ref = ClassRef(uai, school_year, klass)
        today = datetime.now(PARIS).date()
        report = all_or_nothing(lambda c, s: record_for_class(c, ref, start.date(), end.date(), days, user,
                                                               today=today, topic=s.topic(PFMP_EVENTS)),
                                 lambda r: bool(r.refused))
        _class_outcome(report, sum(report.done.values()) + len(report.refused), "students")

    @app.command("set-day-counts")
    def set_day_counts(file: Path, uai: Uai, school_year: Year, klass: Klass, start: Start, end: End,
                       user: User) -> None:
        """Day counts of a class's PFMP (these dates) from a CSV `ine;nb_jours`, all or nothing.
        Prints {"recorded": 0, "edited", "unchanged"}; refused lines on stderr, exit 2."""
        lines = _read_day_counts(file)
        ref = ClassRef(uai, school_year, klass)
        report = all_or_nothing(lambda c, s: set_class_day_counts(c, ref, start.date(), end.date(), lines, user,
                                                                   topic=s.topic(PFMP_EVENTS)),
                                 lambda r: bool(r.refused))
        _class_outcome(report, len(lines), "lines")

    @app.command("validate-pfmps")
    def validate_chosen(pfmp_ids: list[UUID], user: User) -> None:
        """The confirmed director validates one PFMP or a class's selection, all or nothing: each must be
        completed, ended, with a RIB for its establishment and an issued DA. Prints {"validated": n};
        refused: `pfmp <id>: <code>: <message>` on stderr, exit 2."""
        today = datetime.now(PARIS).date()
        report: ValidationReport = all_or_nothing(
            lambda c, s: validate_pfmps(c, pfmp_ids, user, today=today, topic=s.topic(PFMP_EVENTS),
                                        require_rib=s.require_rib), lambda r: bool(r.refused))
        for refusal in report.refused:
            typer.echo(f"pfmp {refusal.pfmp_id}: {refusal.code}: {refusal.message}", err=True)
        if report.refused:
            typer.echo(f"nothing validated: {len(report.refused)} of {len(pfmp_ids)} refused", err=True)
            raise typer.Exit(2)
        typer.echo(json.dumps({"validated": len(report.validated)}))


def _read_day_counts(file: Path) -> list[tuple[int, str, int]]:
    """(line, INE, day count); a malformed line stops everything (its number, never its values)."""
    lines: list[tuple[int, str, int]] = []
    with file.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["ine", "nb_jours"]:
            typer.echo("line 1: the header must be `ine;nb_jours`", err=True)
            raise typer.Exit(2)
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                ine, days = (cell.strip() for cell in row)
                lines.append((number, ine, int(days)))
            except ValueError:
                typer.echo(f"line {number}: expected `ine;nb_jours` with a whole number of days", err=True)
                raise typer.Exit(2) from None
    return lines


__all__ = ["date", "register"]
