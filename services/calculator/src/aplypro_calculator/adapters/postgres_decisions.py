"""SQL of the décision d'attribution gates: the DA state of each schooling and the student's schoolings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection, json_columns, json_rows

from aplypro_calculator.domain.decisions import Decision, Span
from aplypro_calculator.domain.requests import ONGOING


def _decision(row: Any) -> Decision:
    return Decision(row["attribution_version"] or 0, row["abrogation_version"] or 0, row["withdrawal_version"] or 0)


async def held_decisions(conn: Connection, schooling_ids: list[UUID]) -> dict[UUID, Decision]:
    """The DA state held of these schoolings, locked until the caller's commit."""
    rows = await conn.fetch("SELECT * FROM decisions WHERE schooling_id = ANY($1::uuid[]) ORDER BY schooling_id "
                            "FOR UPDATE", schooling_ids)
    return {r["schooling_id"]: _decision(r) for r in rows}


async def store_decisions(conn: Connection, rows: list[tuple[UUID, UUID, Decision]]) -> None:
    """(schooling, student, state) rows with distinct schoolings; a version never goes down (GREATEST)."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO decisions (schooling_id, student_id, attribution_version, abrogation_version, withdrawal_version) "
        f"SELECT {json_columns(['uuid', 'uuid', 'int', 'int', 'int'])} FROM jsonb_array_elements($1::jsonb) AS r "
        "ON CONFLICT (schooling_id) DO UPDATE SET "
        "attribution_version = greatest(decisions.attribution_version, EXCLUDED.attribution_version), "
        "abrogation_version = greatest(decisions.abrogation_version, EXCLUDED.abrogation_version), "
        "withdrawal_version = greatest(decisions.withdrawal_version, EXCLUDED.withdrawal_version), updated_at = now()",
        json_rows((s, st, d.attribution, d.abrogation, d.withdrawal) for s, st, d in rows),
    )


async def student_spans(conn: Connection, student_ids: list[UUID]) -> dict[UUID, list[Span]]:
    """Every schooling known of these students, with its DA state (none when no DocumentIssued or DocumentReady
    came yet)."""
    # One index probe per schooling (LIMIT 1 on a primary key: the subqueries stay lateral). A plain join let
    # the planner hash the whole decisions table for every batch, a cost growing with the year's students.
    rows = await conn.fetch(
        "SELECT s.schooling_id, s.student_id, s.uai, s.mef_code, s.school_year, s.start_date, s.end_date, "
        "d.attribution_version, d.abrogation_version, d.withdrawal_version, r.extended_end_date FROM schoolings s "
        "LEFT JOIN LATERAL (SELECT attribution_version, abrogation_version, withdrawal_version FROM decisions "
        "  WHERE schooling_id = s.schooling_id LIMIT 1) d ON true "
        "LEFT JOIN LATERAL (SELECT extended_end_date FROM schooling_reports WHERE schooling_id = s.schooling_id "
        "  LIMIT 1) r ON true "
        "WHERE s.student_id = ANY($1::uuid[])",
        student_ids)
    spans: dict[UUID, list[Span]] = defaultdict(list)
    for r in rows:
        spans[r["student_id"]].append(Span(r["schooling_id"], r["uai"], r["mef_code"], r["school_year"],
                                           r["start_date"], r["end_date"], _decision(r), r["extended_end_date"]))
    return spans


async def store_schooling_dates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The dates of schoolings just stored by upsert_schoolings (same version: an older event never wins)."""
    if not rows:
        return
    await conn.execute(
        "UPDATE schoolings s SET start_date = u.start_date, end_date = u.end_date "
        f"FROM (SELECT {json_columns(['uuid', 'date', 'date', 'int'])} FROM jsonb_array_elements($1::jsonb) AS r) "
        "AS u(schooling_id, start_date, end_date, version) WHERE s.schooling_id = u.schooling_id "
        "AND s.version = u.version",
        json_rows((r["schooling_id"], r["start_date"], r["end_date"], r["version"]) for r in rows),
    )


async def requests_in_flight(conn: Connection, schooling_ids: list[UUID]) -> int:
    """PFMPs of these schoolings whose latest request is already handed over (ready, sent, integrated)."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM pfmps p JOIN LATERAL (SELECT state FROM payment_requests WHERE pfmp_id = p.pfmp_id "
        "ORDER BY seq DESC LIMIT 1) r ON true WHERE p.schooling_id = ANY($1::uuid[]) AND r.state = ANY($2::text[])",
        schooling_ids, sorted(ONGOING)))
