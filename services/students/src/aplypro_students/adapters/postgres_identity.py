"""SQL of identity matching (imports.md §5.2): stored students sharing an incoming record's normalised
identity, and the review items an import leaves for a person."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_students.domain.identity_match import Candidate
from aplypro_students.domain.model import Identity


async def candidates_for(conn: Connection, sent: Mapping[str, Identity]) -> dict[str, list[Candidate]]:
    """By incoming INE (unknown to us), the students of another INE with the same last name, first first name
    (both through `students_identity_key`), birth date and birth city (an unknown city matches only unknown)."""
    if not sent:
        return {}
    ines = sorted(sent)
    rows = await conn.fetch(
        "SELECT k.ine AS sent_ine, s.student_id, s.ine, s.ine_status "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[]) AS k(ine, last, first, born, city) "
        "JOIN students s ON s.identity_key = students_identity_key(k.last, k.first) AND s.birth_date = k.born "
        "AND s.birth_city_insee IS NOT DISTINCT FROM k.city AND s.ine <> k.ine AND s.merged_into IS NULL "
        "ORDER BY k.ine, s.student_id FOR UPDATE OF s",
        ines, [sent[i].last_name for i in ines], [sent[i].first_names[0] for i in ines],
        [sent[i].birth_date for i in ines], [sent[i].birth_city_insee for i in ines])
    found: dict[str, list[Candidate]] = {}
    for r in rows:
        found.setdefault(r["sent_ine"], []).append(Candidate(r["student_id"], r["ine"], r["ine_status"]))
    return found


async def ines_looking_like_others(conn: Connection, people: Mapping[str, tuple[str, str, date]]) -> set[str]:
    """The INEs (unknown to us) among these whose last name, first first name and birth date are a stored
    student's of another INE, whatever the birth city: their match needs the city, which only the detail has."""
    if not people:
        return set()
    ines = sorted(people)
    rows = await conn.fetch(
        "SELECT DISTINCT k.ine FROM unnest($1::text[], $2::text[], $3::text[], $4::date[]) AS k(ine, last, first, born) "
        "JOIN students s ON s.identity_key = students_identity_key(k.last, k.first) AND s.birth_date = k.born "
        "AND s.ine <> k.ine AND s.merged_into IS NULL",
        ines, [people[i][0] for i in ines], [people[i][1] for i in ines], [people[i][2] for i in ines])
    return {r["ine"] for r in rows}


async def flag_possible_duplicates(conn: Connection, pairs: Sequence[tuple[UUID, UUID]], import_id: UUID) -> None:
    """(new student, the one it looks like): one open review item each; a repeat adds nothing."""
    await conn.executemany(
        "INSERT INTO review_items (item_id, kind, student_id, other_student_id, import_id) "
        "VALUES ($1, 'possible_duplicate', $2, $3, $4) ON CONFLICT DO NOTHING",
        [(uuid.uuid4(), new, other, import_id) for new, other in pairs])
