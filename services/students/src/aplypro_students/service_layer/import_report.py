"""The report of one establishment's import from a student API (SYGNE, FREGATA): one shape for every source.

`as_dict` is the JSON line `import-sygne` and `import-fregata` print last (issue 13): counts, then `skipped`
(records not imported) and `errors` (calls or runs that failed), each `{"ine"?, "reason"}`. The INE appears
only there, for the operator: logs and stored import reports never carry it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aplypro_students.adapters.csv_reader import CellError
from aplypro_students.adapters.csv_students import parse_ine
from aplypro_students.domain.report import RowError
from aplypro_students.service_layer.import_students import ImportSummary

COUNTS = ("students", "schoolings_opened", "schoolings_closed", "class_changes", "unchanged")
# What import-all adds up over a run (service_layer/import_all.py), beside the printed COUNTS.
RUN_COUNTS = ("new", "changed", "schoolings_written", "departures")


def entry(ine: str | None, reason: str) -> dict[str, Any]:
    """A report line: the INE only when it is a valid one (a malformed cell is never echoed)."""
    return {"ine": ine, "reason": reason} if ine else {"reason": reason}


def valid_ine(text: str) -> str | None:
    """The INE as the row normaliser will read it, or None when malformed (then never echoed)."""
    try:
        return parse_ine(text)
    except CellError:
        return None


@dataclass
class SourceReport:
    uai: str
    school_year: int
    summary: dict[str, Any] = field(default_factory=dict)  # import_students' counts (ImportSummary.as_dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"ine"?, "reason"}: not imported
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"ine"?, "reason"}: a call that failed
    warnings: list[dict[str, Any]] = field(default_factory=list)  # imported, with something to look at
    dry_run: bool = False
    other_events: int = 0  # outbox rows written beside import_students' (e.g. StudentIneStatusChanged)
    source: ClassVar[str] = ""

    def add_import(self, summary: ImportSummary, ines: Mapping[int, str]) -> None:
        """The import's counts, and its refused rows and warnings named by INE (`ines`: line → INE)."""
        self.summary = {k: v for k, v in summary.as_dict().items() if k not in ("rejected", "warnings", "excluded")}
        self.skipped += [_row(ines, e) for e in [*summary.rejected, *summary.excluded]]
        self.warnings += [_row(ines, w) for w in summary.warnings]

    def as_dict(self) -> dict[str, Any]:
        return summary_line(self.source, self.uai, self.school_year, self.summary, self.skipped, self.errors)

    def run_counts(self) -> dict[str, int]:
        """The counts import-all totals: `events` is the outbox rows this import committed (none in a dry
        run, which rolls them back), not only the ones `import_students` wrote."""
        counts = {k: int(self.summary.get(k, 0)) for k in RUN_COUNTS}
        written = int(self.summary.get("events", 0)) + self.other_events
        return counts | {"events": 0 if self.dry_run else written}


def summary_line(source: str, uai: str, school_year: int, counts: Mapping[str, Any],
                 skipped: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The printed shape, and nothing else: a run that failed before importing has zero counts."""
    return {"source": source, "uai": uai, "school_year": school_year,
            **{k: int(counts.get(k, 0)) for k in COUNTS}, "skipped": skipped, "errors": errors}


def _row(ines: Mapping[int, str], error: RowError) -> dict[str, Any]:
    return entry(ines.get(error.line), error.code)
