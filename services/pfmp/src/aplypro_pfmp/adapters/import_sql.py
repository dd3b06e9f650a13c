"""SQL of a PFMP file import: a few statements a file whatever its size (service_layer.imports).

Each function is the many-rows form of one single-PFMP statement of `postgres`, with the same meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters.postgres import _to_pfmp
from aplypro_pfmp.domain.pfmp import Pfmp

SchoolingKey = tuple[str, str, int]  # (INE, UAI, school year) as a row of the file names it


async def find_schoolings(conn: Connection, keys: Sequence[SchoolingKey]) -> dict[SchoolingKey, dict[str, Any]]:
    """`postgres.find_schooling` of every key: the student's schooling in that establishment and year (the
    latest if several); a key without one is absent."""
    rows = await conn.fetch(
        "SELECT u.ord, sc.* FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY "
        "AS u(ine, uai, school_year, ord) CROSS JOIN LATERAL ("
        " SELECT sc.* FROM schoolings sc JOIN students st ON coalesce(st.merged_into, st.student_id) = sc.student_id"
        " WHERE st.ine = u.ine AND sc.uai = u.uai AND sc.school_year = u.school_year"
        " ORDER BY sc.start_date DESC LIMIT 1) AS sc",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
    found = {}
    for row in rows:
        schooling = dict(row)
        found[keys[schooling.pop("ord") - 1]] = schooling
    return found


async def lock_periods(conn: Connection, periods: Sequence[tuple[UUID, date, date]]) -> None:
    """Lock the live PFMPs having one of these identities (schooling, start, end), as `postgres.same_period`
    does for an edit: a validation waits, so the status read next is the one edited."""
    await conn.execute(
        "SELECT 1 FROM pfmps p JOIN unnest($1::uuid[], $2::date[], $3::date[]) AS k(schooling_id, start_date, "
        "end_date) USING (schooling_id, start_date, end_date) WHERE NOT p.deleted FOR UPDATE OF p",
        [p[0] for p in periods], [p[1] for p in periods], [p[2] for p in periods])


async def live_pfmps(conn: Connection, student_ids: Sequence[UUID]) -> list[Pfmp]:
    """Every live PFMP of these students (any schooling, any year): the periods a new one may overlap."""
    rows = await conn.fetch("SELECT * FROM pfmps WHERE student_id = ANY($1::uuid[]) AND NOT deleted "
                            "ORDER BY created_seq", list(student_ids))
    return [_to_pfmp(r) for r in rows]


async def last_ranks(conn: Connection, schooling_ids: Sequence[UUID]) -> dict[UUID, int]:
    """`postgres.next_rank` - 1 of each schooling that has a PFMP, deleted ones included (ranks never return)."""
    rows = await conn.fetch("SELECT schooling_id, max(rank) AS rank FROM pfmps WHERE schooling_id = ANY($1::uuid[]) "
                            "GROUP BY schooling_id", list(schooling_ids))
    return {r["schooling_id"]: int(r["rank"]) for r in rows}


async def insert_pfmps(conn: Connection, pfmps: Sequence[Pfmp]) -> dict[UUID, int]:
    """Insert new PFMPs in this order (their `created_seq` follows it); returns each one's `created_seq`.

    The overlap trigger still runs for every row: a writer that skipped the student locks is refused here.
    """
    rows = await conn.fetch(
        "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, rank, "
        "version) SELECT pfmp_id, schooling_id, student_id, start_date, end_date, day_count, status, rank, version "
        "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::date[], $5::date[], $6::int[], $7::text[], $8::int[], "
        "$9::int[]) WITH ORDINALITY AS u(pfmp_id, schooling_id, student_id, start_date, end_date, day_count, "
        "status, rank, version, ord) ORDER BY ord RETURNING pfmp_id, created_seq",
        [p.pfmp_id for p in pfmps], [p.schooling_id for p in pfmps], [p.student_id for p in pfmps],
        [p.start_date for p in pfmps], [p.end_date for p in pfmps], [p.day_count for p in pfmps],
        [p.status.value for p in pfmps], [p.rank for p in pfmps], [p.version for p in pfmps])
    return {r["pfmp_id"]: int(r["created_seq"]) for r in rows}


async def update_day_counts(conn: Connection, pfmps: Sequence[Pfmp]) -> None:
    """`postgres.update_day_count` of each PFMP (day count, status, version)."""
    await conn.execute(
        "UPDATE pfmps p SET day_count = u.day_count, status = u.status, version = u.version "
        "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[]) AS u(pfmp_id, day_count, status, version) "
        "WHERE p.pfmp_id = u.pfmp_id",
        [p.pfmp_id for p in pfmps], [p.day_count for p in pfmps], [p.status.value for p in pfmps],
        [p.version for p in pfmps])


async def audit(conn: Connection, user_id: str, actions: Sequence[tuple[str, Pfmp]]) -> None:
    """`lifecycle_sql.audit` of each (action, PFMP), in this order."""
    await conn.execute(
        "INSERT INTO pfmp_actions (user_id, action, pfmp_id, pfmp_version) SELECT $1, action, pfmp_id, version "
        "FROM unnest($2::text[], $3::uuid[], $4::int[]) WITH ORDINALITY AS u(action, pfmp_id, version, ord) "
        "ORDER BY ord",
        user_id, [a for a, _ in actions], [p.pfmp_id for _, p in actions], [p.version for _, p in actions])
