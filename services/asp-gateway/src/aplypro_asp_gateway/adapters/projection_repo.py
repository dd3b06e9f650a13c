"""SQL of the projection: students, schoolings, caps, RIBs and payment requests, all idempotent upserts.

Each upsert keeps the newest state: by the aggregate's version for schoolings and RIBs (an older event is
stale: dropped and counted), by the event's `occurred_at` otherwise, so a late redelivery cannot roll a row
back; each change flags the student's pending requests for a new check.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

import asyncpg
from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters.recheck_flags import flag_pending
from aplypro_asp_gateway.domain.errors import PfmpAlreadyPending


async def _tick(conn: Connection, student_id: UUID) -> None:
    """Take the student's clock row until commit. Without it a request inserted by another transaction
    while these facts were written was invisible to their re-check flag, and could be checked before
    they were committed: blocked with its flag cleared, it waited forever (issue 9)."""
    await conn.execute("INSERT INTO student_clocks VALUES ($1, 1) "
                       "ON CONFLICT (student_id) DO UPDATE SET ticks = student_clocks.ticks + 1", student_id)


async def tick_students(conn: Connection, student_ids: list[UUID]) -> None:
    """`_tick` for many students, in the order given (sorted by the caller: no lock cycle between batches)."""
    await conn.execute("INSERT INTO student_clocks SELECT id, 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n) "
                       "ORDER BY n ON CONFLICT (student_id) DO UPDATE SET ticks = student_clocks.ticks + 1",
                       student_ids)


async def _recheck(conn: Connection, student_id: UUID) -> None:
    await _tick(conn, student_id)  # first: it waits for a request being inserted, then the flag sees it
    await flag_pending(conn, [student_id])  # every pending one locked until commit, flagged or not


async def upsert_student(conn: Connection, student_id: UUID, as_of: datetime, *, last_name: str,
                         first_names: list[str], birth_date: date, sex: str, birth_city_insee: str | None,
                         birth_country_insee: str | None, postal_code: str | None, city_insee: str | None,
                         country_insee: str | None, address_lines: list[str] | None = None,
                         city_name: str | None = None, version: int = 0) -> bool:
    """The student's identity if newer than the one held (its version, migration 0015); False if not."""
    applied = await conn.fetchval(
        "INSERT INTO students (student_id, last_name, first_names, birth_date, sex, birth_city_insee, "
        "birth_country_insee, address_postal_code, address_city_insee, address_country_insee, as_of, "
        "address_lines, address_city_name, identity_version) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
        "ON CONFLICT (student_id) DO UPDATE SET last_name = EXCLUDED.last_name, "
        "first_names = EXCLUDED.first_names, birth_date = EXCLUDED.birth_date, sex = EXCLUDED.sex, "
        "birth_city_insee = EXCLUDED.birth_city_insee, birth_country_insee = EXCLUDED.birth_country_insee, "
        "address_postal_code = EXCLUDED.address_postal_code, address_city_insee = EXCLUDED.address_city_insee, "
        "address_country_insee = EXCLUDED.address_country_insee, as_of = EXCLUDED.as_of, "
        "address_lines = EXCLUDED.address_lines, address_city_name = EXCLUDED.address_city_name, "
        "identity_version = EXCLUDED.identity_version "
        "WHERE students.identity_version < EXCLUDED.identity_version OR EXCLUDED.identity_version = 0 "
        "AND students.identity_version = 0 AND students.as_of <= EXCLUDED.as_of RETURNING true",
        student_id, last_name, first_names, birth_date, sex, birth_city_insee, birth_country_insee,
        postal_code, city_insee, country_insee, as_of, address_lines or [], city_name, version,
    )
    await _recheck(conn, student_id)  # as before, stale or not: its pending requests are looked at again
    return bool(applied)


def _newer(table: str) -> str:
    """Newer version; between two unversioned (v1, version 0) states, the newer occurred_at as before."""
    return (f"WHERE {table}.version < EXCLUDED.version OR "
            f"EXCLUDED.version = 0 AND {table}.version = 0 AND {table}.as_of <= EXCLUDED.as_of ")


async def count_stale(conn: Connection, event_type: str) -> None:
    await conn.execute("INSERT INTO stale_events VALUES ($1, 1) "
                       "ON CONFLICT (event_type) DO UPDATE SET dropped = stale_events.dropped + 1", event_type)


async def upsert_schooling(conn: Connection, schooling_id: UUID, student_id: UUID, as_of: datetime, *,
                           uai: str, contract_type_code: str, mef_code: str, mef_ministry: str,
                           school_year: int, status: str, start_date: date, end_date: date | None,
                           version: int, establishment_city_insee: str | None = None,
                           establishment_postal_code: str | None = None) -> bool:
    """Returns False when the event is stale (the row held is as new or newer): nothing changes."""
    applied = await conn.fetchval(
        "INSERT INTO schoolings (schooling_id, student_id, uai, contract_type_code, mef_code, mef_ministry, "
        "school_year, status, start_date, end_date, as_of, version, establishment_city_insee, "
        "establishment_postal_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
        "ON CONFLICT (schooling_id) DO UPDATE SET student_id = EXCLUDED.student_id, uai = EXCLUDED.uai, "
        "contract_type_code = EXCLUDED.contract_type_code, mef_code = EXCLUDED.mef_code, "
        "mef_ministry = EXCLUDED.mef_ministry, school_year = EXCLUDED.school_year, status = EXCLUDED.status, "
        "start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, as_of = EXCLUDED.as_of, "
        "version = EXCLUDED.version, establishment_city_insee = EXCLUDED.establishment_city_insee, "
        "establishment_postal_code = EXCLUDED.establishment_postal_code " + _newer("schoolings") + "RETURNING true",
        schooling_id, student_id, uai, contract_type_code, mef_code, mef_ministry, school_year, status,
        start_date, end_date, as_of, version, establishment_city_insee, establishment_postal_code,
    )
    await _recheck(conn, student_id)  # as before, stale or not: its pending requests are looked at again
    return bool(applied)


async def upsert_cap(conn: Connection, schooling_id: UUID, student_id: UUID, as_of: datetime,
                     yearly_cap_cents: int | None) -> None:
    await conn.execute(
        "INSERT INTO schooling_caps VALUES ($1, $2, $3) ON CONFLICT (schooling_id) DO UPDATE "
        "SET yearly_cap_cents = EXCLUDED.yearly_cap_cents, as_of = EXCLUDED.as_of "
        "WHERE schooling_caps.as_of <= EXCLUDED.as_of",
        schooling_id, yearly_cap_cents, as_of,
    )
    await _recheck(conn, student_id)


async def upsert_rib(conn: Connection, student_id: UUID, uai: str, as_of: datetime, *, rib_id: UUID,
                     owner_type: str, holder_name: str, iban: str, bic: str, version: int) -> bool:
    """Returns False when the event is stale (an older RIB of this student and establishment)."""
    applied = await conn.fetchval(
        "INSERT INTO ribs VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (student_id, uai) DO UPDATE "
        "SET rib_id = EXCLUDED.rib_id, owner_type = EXCLUDED.owner_type, holder_name = EXCLUDED.holder_name, "
        "iban = EXCLUDED.iban, bic = EXCLUDED.bic, as_of = EXCLUDED.as_of, version = EXCLUDED.version, "
        "archived = false " + _newer("ribs") + "RETURNING true",
        student_id, uai, rib_id, owner_type, holder_name, iban, bic, as_of, version,
    )
    await _recheck(conn, student_id)  # as before, stale or not: its pending requests are looked at again
    return bool(applied)


async def archive_rib(conn: Connection, rib_id: UUID, version: int) -> bool:
    """The RIB is no longer its student's current one: marked wherever it is held (under the merged student too,
    after a merge), unless a newer RIB replaced it already. Returns False when nothing held it (stale)."""
    students = await conn.fetch("UPDATE ribs SET archived = true WHERE rib_id = $1 AND version <= $2 "
                                "AND NOT archived RETURNING student_id", rib_id, version)
    for row in students:
        await _recheck(conn, row["student_id"])  # their pending requests lose it: missing_rib, until a new one
    return bool(students)


async def insert_request(conn: Connection, *, payment_request_id: UUID, pfmp_id: UUID, schooling_id: UUID,
                         student_id: UUID, amount_cents: int, day_count: int, pfmp_rank: int,
                         event_id: UUID, correlation_id: UUID, requested_at: datetime, version: int,
                         rectification: bool = False, pfmp_start_date: date | None = None) -> bool:
    """A request is immutable here: a redelivery never resets a request already sent. Returns False when
    the request was already held (the event is stale)."""
    await _tick(conn, student_id)  # facts being written for the student are committed before the request
    try:
        inserted = await conn.fetchval(
            "INSERT INTO payment_requests (payment_request_id, pfmp_id, schooling_id, student_id, amount_cents, "
            "day_count, pfmp_rank, requested_event_id, correlation_id, requested_at, version, rectification, "
            "pfmp_start_date) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
            "ON CONFLICT (payment_request_id) DO NOTHING RETURNING true",
            payment_request_id, pfmp_id, schooling_id, student_id, amount_cents, day_count, pfmp_rank,
            event_id, correlation_id, requested_at, version, rectification, pfmp_start_date,
        )
    except asyncpg.UniqueViolationError:
        raise PfmpAlreadyPending("the PFMP already has a pending payment request") from None
    return bool(inserted)


async def upsert_ine_status(conn: Connection, student_id: UUID, *, not_found: bool, version: int) -> bool:
    """Returns False when the event is stale (the status held is as new or newer)."""
    applied = await conn.fetchval(
        "INSERT INTO student_ine_status VALUES ($1, $2, $3) ON CONFLICT (student_id) DO UPDATE "
        "SET not_found = EXCLUDED.not_found, version = EXCLUDED.version "
        "WHERE student_ine_status.version < EXCLUDED.version RETURNING true",
        student_id, not_found, version,
    )
    await _recheck(conn, student_id)  # as before, stale or not: its pending requests are looked at again
    return bool(applied)


async def upsert_hidden(conn: Connection, schooling_id: UUID, student_id: UUID, *, hidden: bool,
                        version: int) -> list[UUID] | None:
    """The schooling's hiding as the students service holds it; None when the event is stale (a version as new
    or newer is held). Applied, the student's pending requests are checked again (held back, or released by a
    reintegration); returns the schooling's requests already in a file (`ready` in a build, or `sent`) when it
    is hidden: past every gate, they are only reported."""
    applied = await conn.fetchval(
        "INSERT INTO hidden_schoolings VALUES ($1, $2, $3, $4) ON CONFLICT (schooling_id) DO UPDATE "
        "SET hidden = EXCLUDED.hidden, version = EXCLUDED.version "
        "WHERE hidden_schoolings.version < EXCLUDED.version RETURNING true",
        schooling_id, student_id, hidden, version,
    )
    if not applied:
        return None
    await _recheck(conn, student_id)
    if not hidden:
        return []
    rows = await conn.fetch("SELECT payment_request_id FROM payment_requests WHERE schooling_id = $1 "
                            "AND state IN ('ready', 'sent') ORDER BY payment_request_id", schooling_id)
    return [r["payment_request_id"] for r in rows]


async def upsert_decision(conn: Connection, schooling_id: UUID, student_id: UUID, issued_at: datetime, *,
                          number: str, version: int) -> Literal["applied", "held", "stale"]:
    """The schooling's décision d'attribution as the documents service printed it: the highest version wins.
    `held`: this version is the one held already (its DocumentReady after its DocumentIssued: the same fact),
    nothing to do; `stale`: a newer one is held. Applied, the student's pending requests are checked again: one
    waiting with missing_attributive_decision leaves with this number."""
    applied = await conn.fetchval(
        "INSERT INTO attributive_decisions VALUES ($1, $2, $3, $4, $5) ON CONFLICT (schooling_id) DO UPDATE "
        "SET number = EXCLUDED.number, version = EXCLUDED.version, issued_at = EXCLUDED.issued_at "
        "WHERE attributive_decisions.version < EXCLUDED.version RETURNING true",
        schooling_id, student_id, number, version, issued_at,
    )
    if not applied and await conn.fetchval(
            "SELECT version = $2 FROM attributive_decisions WHERE schooling_id = $1", schooling_id, version):
        return "held"
    await _recheck(conn, student_id)  # as before, stale or not: its pending requests are looked at again
    return "applied" if applied else "stale"


async def record_withdrawal(conn: Connection, schooling_id: UUID, student_id: UUID,
                            as_of: datetime) -> list[UUID] | None:
    """The schooling's DA is withdrawn: its pending requests are checked again (and held back); returns the
    requests of the schooling already in a file (built: `ready`, or uploaded: `sent`), marked `sent_after_withdrawal` so the fact shows.
    None when the withdrawal was known already (its DocumentReady after its DocumentIssued, a replay): all of
    this was done then, in the transaction that recorded it.

    The flag comes first: it waits for a build holding those rows, so the marking statement that follows
    sees every request that build sent."""
    if not await conn.fetchval("INSERT INTO withdrawn_schoolings VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
                               "RETURNING true", schooling_id, student_id, as_of):
        return None
    await _recheck(conn, student_id)
    rows = await conn.fetch(
        "UPDATE payment_requests SET blocking_reasons = ARRAY['sent_after_withdrawal'] "
        "WHERE schooling_id = $1 AND state IN ('ready', 'sent') RETURNING payment_request_id", schooling_id)
    return [r["payment_request_id"] for r in rows]
