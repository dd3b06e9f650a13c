"""SQL of students, classes and schoolings; callers hold the transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
from aplypro_servicekit.db import Connection

from aplypro_students.domain.model import Address, Identity, Schooling, SchoolingStatus, Sex


async def lock_reconciliation(conn: Connection) -> None:
    """This reconciliation alone (merges, retractions, other ministries' events): no import runs beside it."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('students:reconcile'))")


async def lock_reconciliation_of(conn: Connection, uai: str, ines: Collection[str],
                                 identities: Collection[tuple[str, str, date]], *,
                                 departures_from: int | None) -> None:
    """An establishment's import beside the others, serialised only with those that touch the same students.

    Imports share the reconciliation lock (the operations that take it whole wait for every import), then
    take the establishment, then one lock per student key in one sorted order (no two imports wait on each
    other crosswise): each incoming INE and its merge survivor's, the normalised identity of each record
    (two new INEs of one person flag each other, §5.2, and a placeholder is taken over once) and that of the
    stored student of each INE, and, when the import closes departures, the INEs open in the establishment (a
    transfer elsewhere closes the same schooling). Merges only happen under the whole lock, so the survivors
    read here stay true. Advisory locks are re-entrant: a caller may take a wider set first (the detail lane).
    """
    await _lock_establishments(conn, [uai])
    await _lock_student_keys(conn, [(ine, None, None, None) for ine in ines] + [
        (None, last, first, born) for last, first, born in identities], uai, departures_from)


async def lock_reconciliation_of_many(conn: Connection, uais: Sequence[str],
                                      people: Sequence[tuple[str, str | None, str | None, date | None]]) -> None:
    """The locks of several establishments' imports at once, in the same order (establishments, then student
    keys): (INE, last name, first name, birth date) each."""
    await _lock_establishments(conn, uais)
    await _lock_student_keys(conn, list(people), None, None)


async def _lock_establishments(conn: Connection, uais: Sequence[str]) -> None:
    """The reconciliation lock shared with the other imports, then these establishments in sorted order."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext('students:reconcile'))")
    await conn.executemany("SELECT pg_advisory_xact_lock(hashtext('students:uai'), hashtext($1))",
                           [(uai,) for uai in sorted(set(uais))])


async def _lock_student_keys(conn: Connection, people: Sequence[tuple[str | None, str | None, str | None,
                                                                      date | None]],
                             uai: str | None, departures_from: int | None) -> None:
    rows = await conn.fetch(
        "SELECT DISTINCT hashtext(k) AS k FROM ("
        "  SELECT 'ine:' || p.ine AS k FROM unnest($1::text[]) AS p(ine)"
        "  UNION SELECT 'ine:' || s.ine FROM students t JOIN students s ON s.student_id = t.merged_into"
        "    WHERE t.ine = ANY($1::text[])"
        "  UNION SELECT 'identity:' || s.identity_key || ':' || s.birth_date FROM students t"
        "    JOIN students s ON s.student_id = coalesce(t.merged_into, t.student_id) WHERE t.ine = ANY($1::text[])"
        "  UNION SELECT 'identity:' || students_identity_key(i.last, i.first) || ':' || i.born"
        "    FROM unnest($2::text[], $3::text[], $4::date[]) AS i(last, first, born)"
        "  UNION SELECT 'ine:' || st.ine FROM schoolings s JOIN classes c USING (class_id)"
        "    JOIN students st USING (student_id) WHERE $6::int IS NOT NULL AND c.uai = $5 AND c.school_year = $6"
        "    AND s.end_date IS NULL) AS keys WHERE k IS NOT NULL ORDER BY 1",
        [p[0] for p in people if p[0]], [p[1] for p in people], [p[2] for p in people], [p[3] for p in people],
        uai, departures_from)
    await conn.executemany("SELECT pg_advisory_xact_lock(hashtext('students:student'), $1)",
                           [(r["k"],) for r in rows])


def _address(raw: str) -> Address:
    data: dict[str, Any] = json.loads(raw)
    return Address(tuple(data.get("lines", ())), data.get("postal_code"), data.get("city_insee"),
                   data.get("city_name"), data.get("country_insee"))


def _address_json(a: Address) -> str:
    return json.dumps({"lines": list(a.lines), "postal_code": a.postal_code, "city_insee": a.city_insee,
                       "city_name": a.city_name, "country_insee": a.country_insee}, sort_keys=True)


def identity_of(row: asyncpg.Record) -> Identity:
    return Identity(row["ine"], row["last_name"], tuple(row["first_names"]), row["birth_date"], Sex(row["sex"]),
                    row["birth_city_insee"], row["birth_country_insee"], _address(row["address"]))


async def students_by_ine(conn: Connection, ines: Sequence[str]) -> dict[str, tuple[UUID, Identity]]:
    """The student of each known INE; a merged student's INE gives its survivor (imports.md §5.8), whose
    identity carries the survivor's own INE."""
    rows = await conn.fetch(
        "SELECT t.ine AS sent_ine, s.* FROM students t JOIN students s ON s.student_id = coalesce(t.merged_into, "
        "t.student_id) WHERE t.ine = ANY($1::text[]) ORDER BY s.student_id FOR UPDATE OF s", list(ines))
    return {r["sent_ine"]: (r["student_id"], identity_of(r)) for r in rows}


def _student_args(student_id: UUID, i: Identity, source: str) -> tuple[Any, ...]:
    return (student_id, i.ine, i.last_name, list(i.first_names), i.birth_date, i.sex.value, i.birth_city_insee,
            i.birth_country_insee, _address_json(i.address), source)


async def insert_students(conn: Connection, students: Iterable[tuple[UUID, Identity]], source: str) -> None:
    await conn.executemany(
        "INSERT INTO students (student_id, ine, last_name, first_names, birth_date, sex, birth_city_insee, "
        "birth_country_insee, address, identity_source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)",
        [_student_args(sid, identity, source) for sid, identity in students],
    )


async def update_students(conn: Connection, students: Iterable[tuple[UUID, Identity, int]],
                          source: str) -> dict[UUID, int]:
    """Each (student, corrected identity, number of events that tell it): the version moves by that number, one
    per event. Returns each student's new version."""
    students = list(students)
    await conn.executemany(
        "UPDATE students SET ine = $2, last_name = $3, first_names = $4, birth_date = $5, sex = $6, "
        "birth_city_insee = $7, birth_country_insee = $8, address = $9::jsonb, identity_source = $10, "
        "identity_seen_at = now(), version = version + $11 WHERE student_id = $1",
        [(*_student_args(sid, identity, source), bump) for sid, identity, bump in students],
    )
    if not students:
        return {}
    rows = await conn.fetch("SELECT student_id, version FROM students WHERE student_id = ANY($1::uuid[])",
                            [sid for sid, _, _ in students])
    return {r["student_id"]: r["version"] for r in rows}


async def ensure_classes(conn: Connection, uai: str, school_year: int,
                         keys: set[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
    """Finds or creates the classes (label, MEF) of one establishment and year; classes are never deleted."""
    await conn.executemany(
        "INSERT INTO classes (class_id, uai, school_year, label, mef_code) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (uai, school_year, label, mef_code) DO NOTHING",
        [(uuid.uuid4(), uai, school_year, label, mef) for label, mef in sorted(keys)],
    )
    rows = await conn.fetch("SELECT class_id, label, mef_code FROM classes WHERE uai = $1 AND school_year = $2",
                            uai, school_year)
    return {(r["label"], r["mef_code"]): r["class_id"] for r in rows}


def schooling_from_row(row: asyncpg.Record) -> Schooling:
    return Schooling(row["schooling_id"], row["student_id"], row["class_id"], row["school_year"],
                     SchoolingStatus(row["status"]), row["start_date"], row["end_date"], row["end_date_inferred"],
                     row["hidden_at"] is not None)


async def schoolings_of(conn: Connection, student_ids: Sequence[UUID], class_ids: Sequence[UUID]) -> list[Schooling]:
    """The students' schoolings in these classes, and their open ones anywhere (they may have to close)."""
    rows = await conn.fetch(
        "SELECT s.*, c.school_year FROM schoolings s JOIN classes c USING (class_id) "
        "WHERE s.student_id = ANY($1::uuid[]) AND (s.class_id = ANY($2::uuid[]) OR s.end_date IS NULL) "
        "AND s.folded_into IS NULL "  # a merged duplicate (hidden) is not the (student, class) schooling
        "ORDER BY s.schooling_id FOR UPDATE OF s",
        list(student_ids), list(class_ids),
    )
    return [schooling_from_row(r) for r in rows]


async def write_schoolings(conn: Connection, schoolings: Sequence[Schooling], existing: set[UUID],
                           source: str) -> None:
    """Changes of existing schoolings in the given order (closings come first, so the one-open-schooling index
    holds after each row), then the new ones: two pipelined batches, not one round trip per schooling. A new
    open schooling never precedes a closing it needs, since every closing is a change of an existing one."""
    await conn.executemany(
        "UPDATE schoolings SET status = $2, start_date = $3, end_date = $4, end_date_inferred = $5, "
        "last_seen_at = now(), version = version + 1 WHERE schooling_id = $1",  # a change: next version
        [(s.schooling_id, s.status.value, s.start_date, s.end_date, s.end_date_inferred)
         for s in schoolings if s.schooling_id in existing])
    await conn.executemany(
        "INSERT INTO schoolings (schooling_id, student_id, class_id, status, start_date, end_date, "
        "end_date_inferred, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(s.schooling_id, s.student_id, s.class_id, s.status.value, s.start_date, s.end_date,
          s.end_date_inferred, source) for s in schoolings if s.schooling_id not in existing])


async def mark_seen(conn: Connection, student_ids: Sequence[UUID], class_ids: Sequence[UUID]) -> None:
    """Bookkeeping for departure detection; not a change, so it emits nothing."""
    await conn.execute(
        "UPDATE schoolings SET last_seen_at = now() FROM unnest($1::uuid[], $2::uuid[]) AS seen(sid, cid) "
        "WHERE student_id = seen.sid AND class_id = seen.cid", list(student_ids), list(class_ids),
    )
    await conn.execute("UPDATE students SET identity_seen_at = now() WHERE student_id = ANY($1::uuid[])",
                       list(set(student_ids)))


async def schooling_views(conn: Connection, schooling_ids: Sequence[UUID]) -> list[dict[str, Any]]:
    """Full state of schoolings with their class, establishment and MEF attributes, as events carry them."""
    rows = await conn.fetch(
        "SELECT s.schooling_id, s.student_id, s.status, s.start_date, s.end_date, s.end_date_inferred, s.version, "
        "c.label AS class_label, "
        "c.school_year, e.uai, e.name, e.ministry, e.academy_code, e.contract_type_code, e.address_lines, "
        "e.postal_code, e.city, e.email, e.phone, e.head_name, e.city_insee, m.code AS mef_code, m.dispositif, "
        "m.diploma, m.duration, m.year AS mef_year, m.label AS mef_label, m.ministry AS mef_ministry "
        "FROM schoolings s JOIN classes c USING (class_id) JOIN establishments e ON e.uai = c.uai "
        "JOIN mefs m ON m.code = c.mef_code AND m.school_year = c.school_year "
        "WHERE s.schooling_id = ANY($1::uuid[])",
        list(schooling_ids),
    )
    return [dict(r) for r in rows]


async def record_import(conn: Connection, import_id: UUID, kind: str, uai: str | None, school_year: int | None,
                        mode: str | None, counts: dict[str, int], rejected: list[dict[str, Any]]) -> None:
    await conn.execute(
        "INSERT INTO imports (import_id, kind, uai, school_year, mode, counts, rejected) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)",
        import_id, kind, uai, school_year, mode, json.dumps(counts), json.dumps(rejected),
    )


async def counts(conn: Connection) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM students) AS students, (SELECT count(*) FROM schoolings) AS schoolings, "
        "(SELECT count(*) FROM schoolings WHERE end_date IS NULL) AS open_schoolings, "
        "(SELECT count(*) FROM ribs WHERE archived_at IS NULL) AS ribs, "
        "(SELECT count(*) FROM ribs WHERE archived_at IS NOT NULL) AS archived_ribs"
    )
    assert row is not None
    return {key: int(value) for key, value in row.items()}
