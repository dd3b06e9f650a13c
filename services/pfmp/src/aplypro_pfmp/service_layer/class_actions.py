"""A class at once (lifecycles.md §1): one PFMP with the same dates for every current schooling of the class,
and the day counts of a class's PFMP entered in bulk. All or nothing: the caller rolls back when any
student is refused, and the report names each refused student (internal id or line, never a name or INE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from aplypro_servicekit.db import Connection
from aplypro_servicekit.record_size import RecordTooLarge

from aplypro_pfmp.adapters import lifecycle_sql as sql
from aplypro_pfmp.adapters import postgres
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.lifecycle import EditPfmp, edit_pfmp, require_user
from aplypro_pfmp.service_layer.use_cases import AUDIT_ACTION, Outcome, record_in_schooling


@dataclass(frozen=True)
class ClassRef:
    uai: str
    school_year: int
    class_label: str


@dataclass(frozen=True)
class StudentRefused:
    who: str  # "student <internal id>" or "line <n>"
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.who}: {self.code}: {self.message}"


@dataclass
class ClassReport:
    done: dict[str, int] = field(default_factory=dict)
    refused: list[StudentRefused] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.done[outcome] = self.done.get(outcome, 0) + 1


async def record_for_class(conn: Connection, klass: ClassRef, start: date, end: date, day_count: int | None,
                           user_id: str, *, today: date, topic: str) -> ClassReport:
    """The same PFMP for every schooling of the class current today; students locked in one order first."""
    user_id = require_user(user_id)
    schoolings = await sql.current_schoolings_of_class(conn, klass.uai, klass.school_year, klass.class_label, today)
    if not schoolings:
        raise PfmpError("empty_class", "no current schooling in this class")
    await postgres.lock_students(conn, {s["student_id"] for s in schoolings})  # slot order, as an import
    report = ClassReport()
    for schooling in schoolings:
        try:
            async with conn.transaction():  # a savepoint: every student is checked, then all or nothing
                recorded = await record_in_schooling(conn, schooling, start, end, day_count, topic=topic)
                if recorded.outcome is not Outcome.UNCHANGED:
                    await sql.audit(conn, user_id, AUDIT_ACTION[recorded.outcome], recorded.pfmp)
            report.count(recorded.outcome.value)
        except (PfmpError, RecordTooLarge) as exc:
            report.refused.append(StudentRefused(f"student {schooling['student_id']}", exc.code, str(exc)))
    return report


async def set_class_day_counts(conn: Connection, klass: ClassRef, start: date, end: date,
                               lines: Sequence[tuple[int, str, int]], user_id: str, *, topic: str) -> ClassReport:
    """`lines`: (line, INE, day count) for the class's PFMP of these dates; each goes through edit_pfmp."""
    user_id = require_user(user_id)
    report = ClassReport()
    for line, ine, day_count in lines:
        pfmp_id: UUID | None = await conn.fetchval(
            "SELECT p.pfmp_id FROM pfmps p JOIN schoolings s USING (schooling_id) JOIN students st "
            "ON coalesce(st.merged_into, st.student_id) = s.student_id WHERE st.ine = $1 AND s.uai = $2 AND s.school_year = $3 "
            "AND s.class_label = $4 AND p.start_date = $5 AND p.end_date = $6 AND NOT p.deleted",
            ine, klass.uai, klass.school_year, klass.class_label, start, end)
        if pfmp_id is None:
            report.refused.append(StudentRefused(f"line {line}", "unknown_pfmp",
                                                 "no PFMP with these dates for this student in the class"))
            continue
        try:
            async with conn.transaction():
                edited = await edit_pfmp(conn, EditPfmp(pfmp_id, user_id, day_count=day_count), topic=topic)
            report.count("edited" if edited.path is not None else "unchanged")
        except (PfmpError, RecordTooLarge) as exc:
            report.refused.append(StudentRefused(f"line {line}", exc.code, str(exc)))
    return report
