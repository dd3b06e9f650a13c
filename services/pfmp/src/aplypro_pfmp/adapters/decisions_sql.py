"""SQL of the confirmed director's DA commands: which schoolings of a class or an establishment each one covers,
the student's schoolings the abrogation rule compares, and the audit rows that show a command was asked."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection

# A schooling's DA state from documents' DocumentIssued events (decisions), and whether staff hid it.
_SCOPE = """
SELECT s.schooling_id, s.student_id FROM schoolings s
WHERE s.uai = $1 AND s.school_year = $2 AND ($3::text IS NULL OR s.class_label = $3)
  AND ($4::uuid IS NULL OR s.schooling_id = $4) AND {where}
ORDER BY s.student_id, s.schooling_id
"""
_HIDDEN = "EXISTS (SELECT 1 FROM hidden_schoolings h WHERE h.schooling_id = s.schooling_id AND h.hidden)"
_HAS = "EXISTS (SELECT 1 FROM decisions d WHERE d.schooling_id = s.schooling_id AND d.kind = '{kind}')"
_WITHDRAWAL_ASKED = ("EXISTS (SELECT 1 FROM pfmp_actions a WHERE a.action = 'withdraw_decision' "
                     "AND a.schooling_id = s.schooling_id)")
# documents.md §6: the missing ones leave hidden schoolings out; a reissue covers them, but never a final DA.
MISSING = f"NOT {_HAS.format(kind='attribution')} AND NOT {_HIDDEN}"
REISSUABLE = (f"{_HAS.format(kind='attribution')} AND NOT {_HAS.format(kind='abrogation')} "
              f"AND NOT {_HAS.format(kind='retrait')} AND NOT {_WITHDRAWAL_ASKED}")


async def schoolings_in_scope(conn: Connection, where: str, uai: str, school_year: int, class_label: str | None,
                              schooling_id: UUID | None = None) -> list[tuple[UUID, UUID]]:
    """(schooling, student) of the establishment's year, or of one class, or the one schooling, matching `where`
    (MISSING or REISSUABLE)."""
    rows = await conn.fetch(_SCOPE.format(where=where), uai, school_year, class_label, schooling_id)
    return [(r["schooling_id"], r["student_id"]) for r in rows]


async def counts(conn: Connection, uai: str, school_year: int, class_label: str | None) -> tuple[int, int]:
    """(missing, reissuable) DAs of the establishment's year, or of one class."""
    row = await conn.fetchrow(
        f"SELECT count(*) FILTER (WHERE {MISSING}) AS missing, count(*) FILTER (WHERE {REISSUABLE}) AS reissuable "
        "FROM schoolings s WHERE s.uai = $1 AND s.school_year = $2 AND ($3::text IS NULL OR s.class_label = $3)",
        uai, school_year, class_label)
    return (int(row["missing"]), int(row["reissuable"])) if row else (0, 0)


class Span(NamedTuple):
    schooling_id: UUID
    school_year: int
    start_date: date
    end_date: date | None


async def spans_of_student(conn: Connection, student_id: UUID) -> list[Span]:
    rows = await conn.fetch("SELECT schooling_id, school_year, start_date, end_date FROM schoolings "
                            "WHERE student_id = $1", student_id)
    return [Span(r["schooling_id"], r["school_year"], r["start_date"], r["end_date"]) for r in rows]


async def audit_scope(conn: Connection, user_id: str, action: str, *, uai: str, school_year: int,
                      class_label: str | None, schooling_id: UUID | None, item_count: int) -> None:
    await conn.execute(
        "INSERT INTO pfmp_actions (user_id, action, uai, school_year, class_label, schooling_id, item_count) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)", user_id, action, uai, school_year, class_label, schooling_id,
        item_count)


class Asked(NamedTuple):
    action: str
    at: datetime
    item_count: int | None
    class_label: str | None


async def last_asked(conn: Connection, uai: str, school_year: int, class_label: str | None) -> Asked | None:
    """The latest bulk DA command of the establishment's year (class_label None) or of the class."""
    row = await conn.fetchrow(
        "SELECT action, at, item_count, class_label FROM pfmp_actions WHERE uai = $1 AND school_year = $2 "
        "AND schooling_id IS NULL AND ($3::text IS NULL OR class_label = $3 OR class_label IS NULL) "
        "ORDER BY id DESC LIMIT 1", uai, school_year, class_label)
    return None if row is None else Asked(row["action"], row["at"], row["item_count"], row["class_label"])


async def asked_for_schooling(conn: Connection, schooling_id: UUID) -> Asked | None:
    """The latest DA command naming this schooling (issue, reissue, abrogation)."""
    row = await conn.fetchrow(
        "SELECT action, at, item_count, class_label FROM pfmp_actions WHERE schooling_id = $1 "
        "AND action IN ('issue_missing_decisions', 'reissue_decisions', 'abrogate_decision') "
        "ORDER BY id DESC LIMIT 1", schooling_id)
    return None if row is None else Asked(row["action"], row["at"], row["item_count"], row["class_label"])


class Candidate(NamedTuple):
    """A closed schooling of the establishment whose DA is issued and neither abrogated nor withdrawn: abrogeable
    when domain.abrogation says a more recent schooling supersedes it."""

    schooling_id: UUID
    student_id: UUID
    school_year: int
    class_label: str | None
    start_date: date
    end_date: date
    last_name: str
    first_names: list[str]
    asked_at: datetime | None  # when its abrogation was asked, if it was


async def abrogation_candidates(conn: Connection, uai: str, today: date) -> list[Candidate]:
    rows = await conn.fetch(
        "SELECT s.schooling_id, s.student_id, s.school_year, s.class_label, s.start_date, s.end_date, "
        "st.last_name, st.first_names, (SELECT max(a.at) FROM pfmp_actions a WHERE a.action = 'abrogate_decision' "
        "  AND a.schooling_id = s.schooling_id) AS asked_at "
        "FROM schoolings s JOIN students st USING (student_id) WHERE s.uai = $1 AND s.end_date <= $2 "
        f"AND {_HAS.format(kind='attribution')} AND NOT {_HAS.format(kind='abrogation')} "
        f"AND NOT {_HAS.format(kind='retrait')} "
        "ORDER BY s.school_year DESC, s.class_label, st.last_name, st.first_names, s.schooling_id", uai, today)
    return [Candidate(**dict(r)) for r in rows]


async def spans_of_students(conn: Connection, student_ids: list[UUID]) -> dict[UUID, list[Span]]:
    """Every schooling of these students, in any establishment: what the abrogation rule compares."""
    spans: dict[UUID, list[Span]] = {student_id: [] for student_id in student_ids}
    for r in await conn.fetch("SELECT student_id, schooling_id, school_year, start_date, end_date FROM schoolings "
                              "WHERE student_id = ANY($1::uuid[])", student_ids):
        spans[r["student_id"]].append(Span(r["schooling_id"], r["school_year"], r["start_date"], r["end_date"]))
    return spans
