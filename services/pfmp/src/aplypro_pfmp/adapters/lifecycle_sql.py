"""SQL of the PFMP life cycle: the payment-request and decision facts, RIBs on file, the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import decision_content_sql
from aplypro_pfmp.adapters.postgres import _to_pfmp
from aplypro_pfmp.domain.pfmp import Pfmp

Recorded = Literal["applied", "held", "stale"]  # a decision's version: newer, the one held, older

# Apply an event newer than the one held (0: an unversioned v1 event, applied over nothing or another 0).
_NEWER = "{col} < $3 OR $3 = 0 AND {col} <= 0"


async def _stale(conn: Connection, event_type: str) -> None:
    await conn.execute("INSERT INTO stale_events VALUES ($1, 1) "
                       "ON CONFLICT (event_type) DO UPDATE SET dropped = stale_events.dropped + 1", event_type)


async def calculator_state(conn: Connection, request_id: UUID, pfmp_id: UUID, version: int, state: str,
                           at: datetime, *, created: bool, event_type: str) -> bool:
    """The calculator's state of a request (pending, incomplete); False, counted, when stale."""
    await conn.execute("INSERT INTO payment_requests (payment_request_id, pfmp_id, first_seen) VALUES ($1, $2, $3) "
                       "ON CONFLICT DO NOTHING", request_id, pfmp_id, at)
    applied = await conn.fetchval(
        "UPDATE payment_requests SET calc_state = $2, calc_version = $3, "
        "requested_at = CASE WHEN $5 THEN coalesce(requested_at, $4) ELSE requested_at END "
        f"WHERE payment_request_id = $1 AND ({_NEWER.format(col='calc_version')}) RETURNING true",
        request_id, state, version, at, created)
    if applied is None:
        await _stale(conn, event_type)
    return applied is not None


async def gateway_state(conn: Connection, request_id: UUID, pfmp_id: UUID, version: int, state: str,
                        at: datetime, *, event_type: str) -> bool:
    """The gateway's state of a request (ready … paid); False, counted, when stale."""
    await conn.execute("INSERT INTO payment_requests (payment_request_id, pfmp_id, first_seen) VALUES ($1, $2, $3) "
                       "ON CONFLICT DO NOTHING", request_id, pfmp_id, at)
    if state in ("integrated", "paid", "unpaid"):  # known to the ASP for good, whatever the order of events
        await conn.execute("INSERT INTO pfmps_known_to_asp VALUES ($1) ON CONFLICT DO NOTHING", pfmp_id)
    applied = await conn.fetchval(
        "UPDATE payment_requests SET asp_state = $2, asp_version = $3 "
        f"WHERE payment_request_id = $1 AND ({_NEWER.format(col='asp_version')}) RETURNING true",
        request_id, state, version)
    if applied is None:
        await _stale(conn, event_type)
    return applied is not None


async def latest_request(conn: Connection, pfmp_id: UUID) -> tuple[str | None, bool]:
    """(state of the PFMP's latest payment request or None, whether the ASP ever integrated the PFMP)."""
    state = await conn.fetchval(
        "SELECT coalesce(asp_state, calc_state) FROM payment_requests WHERE pfmp_id = $1 "
        "ORDER BY coalesce(requested_at, first_seen) DESC, payment_request_id LIMIT 1", pfmp_id)
    known = await conn.fetchval("SELECT true FROM pfmps_known_to_asp WHERE pfmp_id = $1", pfmp_id)
    return state, bool(known)


async def record_decision(conn: Connection, schooling_id: UUID, kind: str, version: int,
                          issued_at: datetime | None = None, *, event_type: str = "DocumentReady") -> Recorded:
    """A newer version of a decision; a DA's (kind attribution) notes what it was issued from (`issued_at`: the
    announcing event's time), for decision_content_sql to tell when it goes stale. The version held already is
    `held` (DocumentIssued then DocumentReady of one document: the same fact, not counted); an older one is
    `stale`, counted under `event_type`."""
    applied = await conn.fetchval(
        "INSERT INTO decisions (schooling_id, kind, version) VALUES ($1, $2, $3) ON CONFLICT (schooling_id, kind) "
        "DO UPDATE SET version = EXCLUDED.version WHERE decisions.version < EXCLUDED.version RETURNING true",
        schooling_id, kind, version)
    if applied is None:
        held = await conn.fetchval("SELECT version FROM decisions WHERE schooling_id = $1 AND kind = $2",
                                   schooling_id, kind)
        if held == version:
            return "held"
        await _stale(conn, event_type)
        return "stale"
    if kind == "attribution" and issued_at is not None:
        await decision_content_sql.note_issue(conn, schooling_id, issued_at)
    return "applied"


async def has_decision(conn: Connection, schooling_id: UUID) -> bool:
    """An issued DA that was not withdrawn (an abrogated DA still covers the PFMPs of its schooling)."""
    return decision_covers((await decision_kinds(conn, [schooling_id])).get(schooling_id, set()))


def decision_covers(kinds: set[str]) -> bool:
    """The schooling's decision kinds include an issued DA and no retrait."""
    return "attribution" in kinds and "retrait" not in kinds


async def decision_kinds(conn: Connection, schooling_ids: Sequence[UUID]) -> dict[UUID, set[str]]:
    """Each schooling's decision kinds (none: absent)."""
    rows = await conn.fetch("SELECT schooling_id, array_agg(DISTINCT kind) AS kinds FROM decisions "
                            "WHERE schooling_id = ANY($1::uuid[]) GROUP BY schooling_id", list(set(schooling_ids)))
    return {r["schooling_id"]: set(r["kinds"]) for r in rows}


async def record_rib_status(conn: Connection, student_id: UUID, uai: str, *, has_rib: bool, version: int) -> bool:
    """The pair has a current RIB, or none any more, unless a newer status is held; False when stale. The same
    version again (RibOnFile and RibStatusChanged of one RIB) says the same: applied again, idempotent."""
    applied = await conn.fetchval(
        "INSERT INTO rib_status_versions VALUES ($1, $2, $3) ON CONFLICT (student_id, uai) DO UPDATE "
        "SET version = EXCLUDED.version WHERE rib_status_versions.version <= EXCLUDED.version RETURNING true",
        student_id, uai, version)
    if not applied:
        return False
    if has_rib:
        await conn.execute("INSERT INTO ribs_on_file VALUES ($1, $2) ON CONFLICT DO NOTHING", student_id, uai)
    else:
        await conn.execute("DELETE FROM ribs_on_file WHERE student_id = $1 AND uai = $2", student_id, uai)
    return True


async def has_rib(conn: Connection, student_id: UUID, uai: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM ribs_on_file WHERE student_id = $1 AND uai = $2",
                                    student_id, uai))


@dataclass(frozen=True)
class Candidate:
    """A completed PFMP the bulk validation may validate, locked, with the facts its guards read."""

    pfmp: Pfmp
    uai: str  # its schooling's establishment
    has_rib: bool  # the student has a RIB on file for that establishment
    decision_kinds: set[str]  # its schooling's decisions (none: empty)


async def validation_candidates(conn: Connection, uai: str | None, ended_by: date) -> list[Candidate]:
    """The completed live PFMPs that ended by `ended_by` (of one establishment, or all), locked (those another
    validation holds are skipped), in recording order, with their guards' facts: one statement for the whole
    list (a national list is 10⁶ PFMPs), instead of the PFMPs, then the RIB pairs, then the decisions."""
    rows = await conn.fetch(
        "SELECT p.*, s.uai AS schooling_uai, "
        "EXISTS (SELECT 1 FROM ribs_on_file r WHERE r.student_id = p.student_id AND r.uai = s.uai) AS has_rib, "
        "ARRAY(SELECT d.kind FROM decisions d WHERE d.schooling_id = p.schooling_id) AS decision_kinds "
        "FROM pfmps p JOIN schoolings s USING (schooling_id) WHERE p.status = 'completed' "
        "AND NOT p.deleted AND p.end_date <= $2 AND ($1::text IS NULL OR s.uai = $1) "
        "ORDER BY p.created_seq FOR UPDATE OF p SKIP LOCKED", uai, ended_by)
    return [Candidate(_to_pfmp(r), r["schooling_uai"], r["has_rib"], set(r["decision_kinds"])) for r in rows]


async def audit(conn: Connection, user_id: str, action: str, pfmp: Pfmp | None) -> None:
    await conn.execute("INSERT INTO pfmp_actions (user_id, action, pfmp_id, pfmp_version) VALUES ($1, $2, $3, $4)",
                       user_id, action, None if pfmp is None else pfmp.pfmp_id,
                       None if pfmp is None else pfmp.version)


async def audit_many(conn: Connection, user_id: str, action: str, pfmps: Sequence[Pfmp]) -> None:
    """One audit row per PFMP, in their order, in one statement."""
    if pfmps:
        await conn.execute(
            "INSERT INTO pfmp_actions (user_id, action, pfmp_id, pfmp_version) "
            "SELECT $1, $2, p.id, p.version FROM unnest($3::uuid[], $4::int[]) WITH ORDINALITY AS p(id, version, n) "
            "ORDER BY p.n", user_id, action, [p.pfmp_id for p in pfmps], [p.version for p in pfmps])


async def pfmp_for_update(conn: Connection, pfmp_id: UUID) -> tuple[Pfmp, dict[str, Any]] | None:
    """A live PFMP and its schooling, the row locked."""
    row = await conn.fetchrow("SELECT * FROM pfmps WHERE pfmp_id = $1 AND NOT deleted", pfmp_id)
    if row is None:
        return None
    schooling = await conn.fetchrow("SELECT * FROM schoolings WHERE schooling_id = $1", row["schooling_id"])
    row = await conn.fetchrow("SELECT * FROM pfmps WHERE pfmp_id = $1 FOR UPDATE", pfmp_id)
    return _to_pfmp(row), dict(schooling or {})


async def overlapping_other(conn: Connection, pfmp: Pfmp) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT pfmp_id FROM pfmps WHERE student_id = $1 AND NOT deleted AND pfmp_id <> $4 "
        "AND start_date <= $3 AND end_date >= $2 LIMIT 1", pfmp.student_id, pfmp.start_date, pfmp.end_date,
        pfmp.pfmp_id)
    return found


async def same_period_other(conn: Connection, pfmp: Pfmp) -> bool:
    return bool(await conn.fetchval(
        "SELECT true FROM pfmps WHERE schooling_id = $1 AND start_date = $2 AND end_date = $3 AND NOT deleted "
        "AND pfmp_id <> $4", pfmp.schooling_id, pfmp.start_date, pfmp.end_date, pfmp.pfmp_id))


async def save(conn: Connection, pfmp: Pfmp) -> None:
    """Write the PFMP's dates, day count, status, deletion and version (the trigger checks overlaps)."""
    await conn.execute(
        "UPDATE pfmps SET start_date = $2, end_date = $3, day_count = $4, status = $5, deleted = $6, version = $7 "
        "WHERE pfmp_id = $1", pfmp.pfmp_id, pfmp.start_date, pfmp.end_date, pfmp.day_count, pfmp.status.value,
        pfmp.deleted, pfmp.version)


async def current_schoolings_of_class(conn: Connection, uai: str, school_year: int, class_label: str,
                                      on: date) -> list[dict[str, Any]]:
    """The schoolings of a class current on a date (open, or closed on or after it), in a stable order."""
    rows = await conn.fetch(
        "SELECT * FROM schoolings WHERE uai = $1 AND school_year = $2 AND class_label = $3 "
        "AND start_date <= $4 AND (end_date IS NULL OR end_date >= $4) ORDER BY student_id",
        uai, school_year, class_label, on)
    return [dict(r) for r in rows]
