"""Importing a PFMP file: every row recorded, edited or left unchanged, or the whole file refused.

Re-importing a file is a no-op: each row finds the PFMP of its period (student, schooling, start, end)
and is counted `unchanged`; a row repeated inside the file too. A row giving that period another day count
edits the PFMP (not for a validated one: the row is refused).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from aplypro_servicekit.db import Connection
from aplypro_servicekit.record_size import RecordTooLarge

from aplypro_pfmp.adapters import lifecycle_sql, postgres
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.use_cases import (
    AUDIT_ACTION,
    Outcome,
    RecordPfmp,
    record_in_schooling,
    unknown_schooling,
)

IMPORT_USER = "import-csv"  # when the caller names nobody


@dataclass(frozen=True)
class RowRefused:
    line: int
    code: str
    message: str  # never a value of the row: it may reach a terminal or a log

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}: {self.message}"


@dataclass
class ImportSummary:
    counts: Counter[Outcome] = field(default_factory=Counter)
    refused: list[RowRefused] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {outcome.value: self.counts[outcome] for outcome in Outcome}


async def import_pfmps(conn: Connection, lines: Sequence[tuple[int, RecordPfmp]], *, topic: str,
                      user_id: str = IMPORT_USER) -> ImportSummary:
    """Record every row in the caller's transaction; the caller rolls back when any row is refused.

    The students of the file are locked first, in one order (their slots, at most 1,024 locks), so that two
    imports sharing students wait for each other instead of deadlocking.
    """
    # Each row's schooling, read once: for the locks first, then for the row itself.
    schoolings = [await postgres.find_schooling(conn, c.ine, c.uai, c.school_year) for _, c in lines]
    await postgres.lock_students(conn, {s["student_id"] for s in schoolings if s is not None})
    summary = ImportSummary()
    for (line, command), schooling in zip(lines, schoolings, strict=True):
        try:
            async with conn.transaction():  # a refused row leaves nothing behind, so the others are checked
                if schooling is None:
                    raise unknown_schooling()
                recorded = await record_in_schooling(conn, schooling, command.start_date, command.end_date,
                                                     command.day_count, topic=topic)
                summary.counts[recorded.outcome] += 1
                if recorded.outcome is not Outcome.UNCHANGED:  # who recorded or edited it (audit trail)
                    await lifecycle_sql.audit(conn, user_id, AUDIT_ACTION[recorded.outcome], recorded.pfmp)
        except (PfmpError, RecordTooLarge) as exc:
            summary.refused.append(RowRefused(line, exc.code, str(exc)))
    return summary
