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

from aplypro_pfmp.adapters import postgres
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.use_cases import Outcome, RecordPfmp, record_pfmp


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


async def import_pfmps(conn: Connection, lines: Sequence[tuple[int, RecordPfmp]], *, topic: str) -> ImportSummary:
    """Record every row in the caller's transaction; the caller rolls back when any row is refused.

    The students of the file are locked first, in one order (their slots, at most 1,024 locks), so that two
    imports sharing students wait for each other instead of deadlocking.
    """
    students = set()
    for _, command in lines:
        schooling = await postgres.find_schooling(conn, command.ine, command.uai, command.school_year)
        if schooling is not None:  # unknown: refused below, with its line
            students.add(schooling["student_id"])
    await postgres.lock_students(conn, students)
    summary = ImportSummary()
    for line, command in lines:
        try:
            async with conn.transaction():  # a refused row leaves nothing behind, so the others are checked
                summary.counts[(await record_pfmp(conn, command, topic=topic)).outcome] += 1
        except (PfmpError, RecordTooLarge) as exc:
            summary.refused.append(RowRefused(line, exc.code, str(exc)))
    return summary
