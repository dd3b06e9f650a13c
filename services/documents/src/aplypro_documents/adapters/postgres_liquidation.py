"""SQL behind the état liquidatif: bank accounts, PFMPs and payment requests, and the statements ready to render.

Bank details are personal data: they are read here only to be printed, and never logged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_documents.adapters.postgres import newer_than
from aplypro_documents.adapters.postgres_decisions import ONE_SCHOOLING, decision_inputs, decision_inputs_sql

# An état liquidatif prints the student's bank account for the schooling's establishment.
_RIB_COLUMNS = ", r.holder_name, r.iban, r.bic"
_RIB_JOIN = ("JOIN ribs r ON r.student_id = s.student_id AND r.establishment_uai = s.establishment->>'uai' "
             "AND NOT r.archived ")


async def upsert_rib(conn: Connection, row: dict[str, Any], recorded_at: datetime) -> bool:
    """The student's current account for one establishment; an older event never replaces a newer one (by
    version; between unversioned v1 events, by occurred_at). Returns False when the event is stale."""
    applied = await conn.fetchval(
        "INSERT INTO ribs VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (student_id, establishment_uai) "
        "DO UPDATE SET rib_id = $3, owner_type = $4, holder_name = $5, iban = $6, bic = $7, recorded_at = $8, "
        "version = $9, archived = false WHERE ribs.version < EXCLUDED.version "
        "OR EXCLUDED.version = 0 AND ribs.version = 0 AND ribs.recorded_at <= EXCLUDED.recorded_at RETURNING true",
        row["student_id"], row["establishment_uai"], row["rib_id"], row["owner_type"], row["holder_name"],
        row["iban"], row["bic"], recorded_at, row["version"],
    )
    return bool(applied)


async def archive_rib(conn: Connection, rib_id: UUID, version: int) -> bool:
    """The RIB is no longer its student's current one: marked wherever held (under a merged student too), unless a
    newer RIB replaced it already. Returns False when nothing held it (the event is stale)."""
    done = await conn.fetchval("WITH a AS (UPDATE ribs SET archived = true WHERE rib_id = $1 AND version <= $2 "
                               "AND NOT archived RETURNING 1) SELECT count(*) FROM a", rib_id, version)
    return bool(done)


async def upsert_pfmp(conn: Connection, row: dict[str, Any], validated_on: date | None) -> bool:
    """A PFMP's full current state; the validation date and the PFMP number, once known, are kept. Returns
    False, changing nothing, when the event is not newer than the PFMP held (stale)."""
    applied = await conn.fetchval(
        "INSERT INTO pfmps (pfmp_id, schooling_id, student_id, start_date, end_date, status, rank, deleted, "
        "validated_on, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (pfmp_id) DO UPDATE "
        "SET start_date = $4, end_date = $5, status = $6, rank = $7, deleted = $8, "
        "validated_on = coalesce(pfmps.validated_on, $9), version = $10"
        + newer_than("pfmps") + " RETURNING true",
        row["pfmp_id"], row["schooling_id"], row["student_id"], row["start_date"], row["end_date"], row["status"],
        row["rank"], row["deleted"], validated_on, row["version"],
    )
    return bool(applied)


async def insert_payment_request(conn: Connection, row: dict[str, Any], requested_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO payment_requests VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        row["payment_request_id"], row["pfmp_id"], row["schooling_id"], row["amount_cents"], row["day_count"],
        row["pfmp_rank"], requested_at,
    )


EstablishmentKey = tuple[str, int]  # (UAI, school year): the états liquidatifs claimed together


def establishment_of(row: dict[str, Any]) -> EstablishmentKey:
    return row["establishment"]["uai"], row["school_year"]


async def claim_liquidations(conn: Connection, limit: int, exclude: list[UUID] | None = None,
                             continue_with: EstablishmentKey | None = None) -> list[dict[str, Any]]:
    """Queued états liquidatifs with everything they print: an issued DA, the student's bank account for
    the schooling's establishment, and the dates of every PFMP that has a payment request (`exclude`: rows
    this transaction holds already). An establishment at a time, `continue_with` first, then the one with
    the oldest queued: its états liquidatifs share their section pages' layouts in the renderer
    (stamping.py), so a batch drawn from a few establishments renders faster than one drawn across the
    country."""
    claimed: list[dict[str, Any]] = []
    held = list(exclude or [])
    pending = [continue_with] if continue_with else []
    while len(claimed) < limit:
        if pending:
            key = pending.pop()
        else:
            seed_id = await _oldest_ready_liquidation(conn, held)
            seed = [] if seed_id is None else await _claim_ready_liquidations(
                conn, 1, held, "AND q.schooling_id = $3 ", seed_id)
            if not seed:
                break
            claimed += seed
            held.append(seed[0]["schooling_id"])
            key = establishment_of(seed[0])
        rows = await _claim_ready_liquidations(conn, limit - len(claimed), held,
                                               "AND s.establishment->>'uai' = $3 AND s.school_year = $4 ", *key)  # fmt: skip
        claimed += rows
        held += [row["schooling_id"] for row in rows]
    return claimed


async def _oldest_ready_liquidation(conn: Connection, held: list[UUID]) -> UUID | None:
    """The oldest queued état liquidatif that can be printed, locked: the queue walked in its index order
    (render_queue_kind_queued) and each row checked as it comes, so a claim costs the rows it skips (those
    other lanes hold, those still waiting for an input), not the whole queue joined and sorted."""
    value = await conn.fetchval(
        "SELECT q.schooling_id FROM render_queue q JOIN schoolings s USING (schooling_id) "
        "WHERE q.kind = 'liquidation' AND q.schooling_id <> ALL($1::uuid[]) "
        "AND EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = q.schooling_id AND d.kind = 'attribution') "
        "AND EXISTS (SELECT 1 FROM students st WHERE st.student_id = s.student_id) "
        "AND EXISTS (SELECT 1 FROM ribs r WHERE r.student_id = s.student_id "
        "AND r.establishment_uai = s.establishment->>'uai' AND NOT r.archived) " + _ALL_REQUESTS_KNOWN
        + "ORDER BY q.queued_at, q.schooling_id LIMIT 1 FOR UPDATE OF q SKIP LOCKED",
        held,
    )  # fmt: skip
    return None if value is None else UUID(str(value))


# Every payment request of the schooling has its PFMP known (the PFMP's dates are printed).
_ALL_REQUESTS_KNOWN = (
    "AND NOT EXISTS (SELECT 1 FROM payment_requests pr LEFT JOIN pfmps p USING (pfmp_id) "
    "WHERE pr.schooling_id = q.schooling_id AND p.pfmp_id IS NULL) "
)


async def _claim_ready_liquidations(conn: Connection, limit: int, held: list[UUID], where: str = "",
                                    *args: Any) -> list[dict[str, Any]]:  # fmt: skip
    if limit < 1:
        return []
    rows = await conn.fetch(
        decision_inputs_sql(columns=_RIB_COLUMNS) + _RIB_JOIN
        + "WHERE q.kind = 'liquidation' " + _ALL_REQUESTS_KNOWN
        + "AND q.schooling_id <> ALL($2::uuid[]) " + where
        + "ORDER BY q.queued_at, q.schooling_id LIMIT $1 FOR UPDATE OF q SKIP LOCKED",
        limit, held, *args,
    )  # fmt: skip
    return decision_inputs(rows)


async def liquidation_inputs(conn: Connection, schooling_id: UUID) -> dict[str, Any] | None:
    """What this schooling's état liquidatif prints besides its PFMPs, as it stands now; None without an
    issued DA or a bank account."""
    rows = await conn.fetch(decision_inputs_sql(ONE_SCHOOLING, _RIB_COLUMNS) + _RIB_JOIN, schooling_id)
    return decision_inputs(rows)[0] if rows else None


async def requested_pfmps(conn: Connection, schooling_ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    """Per schooling, each live PFMP that has a payment request, with the amount of its latest request."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (pr.pfmp_id) pr.pfmp_id, pr.schooling_id, pr.amount_cents, pr.requested_at, "
        "p.start_date, p.end_date, p.rank, p.status, p.validated_on, p.pfmp_number "
        "FROM payment_requests pr JOIN pfmps p USING (pfmp_id) WHERE pr.schooling_id = ANY($1) AND NOT p.deleted "
        "ORDER BY pr.pfmp_id, pr.requested_at DESC, pr.payment_request_id",
        schooling_ids,
    )
    found: dict[UUID, list[dict[str, Any]]] = {schooling_id: [] for schooling_id in schooling_ids}
    for r in sorted(rows, key=lambda r: r["rank"]):
        found[r["schooling_id"]].append(dict(r))
    return found


async def keep_pfmp_numbers(conn: Connection, numbers: dict[UUID, str]) -> dict[UUID, str]:
    """Store each PFMP's number the first time it is given one; returns the stored numbers (never changed)."""
    if not numbers:
        return {}
    rows = await conn.fetch(
        "UPDATE pfmps p SET pfmp_number = coalesce(p.pfmp_number, n.number) "
        "FROM unnest($1::uuid[], $2::text[]) AS n(pfmp_id, number) WHERE p.pfmp_id = n.pfmp_id "
        "RETURNING p.pfmp_id, p.pfmp_number",
        list(numbers), list(numbers.values()),
    )
    return {r["pfmp_id"]: r["pfmp_number"] for r in rows}


async def last_input_hash(conn: Connection, schooling_id: UUID, kind: str) -> str | None:
    value = await conn.fetchval(
        "SELECT input_sha256 FROM documents WHERE schooling_id = $1 AND kind = $2 ORDER BY version DESC LIMIT 1",
        schooling_id, kind,
    )
    return None if value is None else str(value)
