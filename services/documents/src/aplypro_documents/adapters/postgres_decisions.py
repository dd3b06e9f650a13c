"""SQL behind abrogations and retraits: each schooling's decision state, and the queued ones ready to render."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_documents.domain.decisions import SchoolingSpan

# A document about an issued DA: the schooling, the student's identity and the current DA (highest
# version). A queued row without an issued DA is not returned: it waits in the queue for it.
_DECISION_INPUTS = (
    "SELECT q.schooling_id, q.kind, q.attempts, q.detail, s.student_id, s.school_year, s.establishment, s.mef, "
    "s.administrative_number, s.start_date, s.end_date, st.identity, "
    "da.number AS decision_number, da.created_at AS decision_created_at{columns} "
    "FROM {source} JOIN schoolings s USING (schooling_id) JOIN students st USING (student_id) "
    "JOIN LATERAL (SELECT d.number, d.created_at FROM documents d WHERE d.schooling_id = q.schooling_id "
    "AND d.kind = 'attribution' ORDER BY d.version DESC LIMIT 1) da ON true "
)
# One schooling ($1) in the shape of a queue row, to rebuild a document already issued (student_document.py).
ONE_SCHOOLING = "(SELECT $1::uuid AS schooling_id, NULL::text AS kind, 0 AS attempts, NULL::jsonb AS detail) q"


def decision_inputs_sql(source: str = "render_queue q", columns: str = "") -> str:
    """The SELECT of a document about an issued DA, from the queue or ONE_SCHOOLING, with extra columns."""
    return _DECISION_INPUTS.format(source=source, columns=columns)


DECISION_INPUTS = decision_inputs_sql()


def decision_inputs(rows: list[Any]) -> list[dict[str, Any]]:
    return [{**dict(r), "establishment": json.loads(r["establishment"]), "mef": json.loads(r["mef"]),
             "identity": json.loads(r["identity"]), "detail": json.loads(r["detail"]) if r["detail"] else None}
            for r in rows]  # fmt: skip


@dataclass(frozen=True, slots=True)
class DecisionState:
    """Where a schooling stands in the lifecycle of its decisions (lifecycles.md §3)."""

    schooling_id: UUID
    student_id: UUID
    priced: bool | None  # None: the calculator has not priced it yet
    attribution_issued: bool
    attribution_queued: bool
    abrogated: bool  # an abrogation is issued
    withdrawn: bool  # a retrait is issued or queued

    @property
    def attribution_expected(self) -> bool:
        """Issued, or queued with a barème that may still come (an unpriced MEF never gets one)."""
        return self.attribution_issued or (self.attribution_queued and self.priced is not False)


async def decision_states(conn: Connection, schooling_ids: list[UUID]) -> dict[UUID, DecisionState]:
    rows = await conn.fetch(
        "SELECT s.schooling_id, s.student_id, p.priced, "
        "EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s.schooling_id AND d.kind = 'attribution') AS ai, "
        "EXISTS (SELECT 1 FROM render_queue q WHERE q.schooling_id = s.schooling_id AND q.kind = 'attribution') AS aq, "
        "EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s.schooling_id AND d.kind = 'abrogation') AS ab, "
        "EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s.schooling_id AND d.kind = 'withdrawal') "
        "OR EXISTS (SELECT 1 FROM render_queue q WHERE q.schooling_id = s.schooling_id AND q.kind = 'withdrawal') "
        "AS wd FROM schoolings s LEFT JOIN pricing p USING (schooling_id) WHERE s.schooling_id = ANY($1)",
        schooling_ids,
    )
    return {r["schooling_id"]: DecisionState(r["schooling_id"], r["student_id"], r["priced"], r["ai"], r["aq"],
                                             r["ab"], r["wd"]) for r in rows}  # fmt: skip


async def withdrawals(conn: Connection, schooling_ids: list[UUID]) -> dict[UUID, tuple[bool, bool]]:
    """Per schooling: (a retrait is issued, a retrait is queued): DecisionState.withdrawn in its two parts, for
    the issuer, whose batch may take a queued retrait off the queue before it reads the flag."""
    rows = await conn.fetch(
        "SELECT s, EXISTS (SELECT 1 FROM documents d WHERE d.schooling_id = s AND d.kind = 'withdrawal') AS issued, "
        "EXISTS (SELECT 1 FROM render_queue q WHERE q.schooling_id = s AND q.kind = 'withdrawal') AS queued "
        "FROM unnest($1::uuid[]) AS s",
        schooling_ids,
    )
    return {r["s"]: (r["issued"], r["queued"]) for r in rows}


async def student_schoolings(conn: Connection, student_ids: list[UUID]) -> dict[UUID, list[SchoolingSpan]]:
    """Every schooling of these students, as the abrogation rule sees them."""
    rows = await conn.fetch(
        "SELECT schooling_id, student_id, school_year, start_date, end_date, mef->>'code' AS mef_code, "
        "establishment->>'uai' AS uai FROM schoolings WHERE student_id = ANY($1) ORDER BY start_date",
        student_ids,
    )
    spans: dict[UUID, list[SchoolingSpan]] = {student_id: [] for student_id in student_ids}
    for r in rows:
        spans[r["student_id"]].append(SchoolingSpan(r["schooling_id"], r["school_year"], r["start_date"],
                                                    r["end_date"], r["mef_code"], r["uai"]))  # fmt: skip
    return spans


async def claim_abrogations(conn: Connection, limit: int, today: date,
                            exclude: list[UUID] | None = None) -> list[dict[str, Any]]:
    """Queued abrogations whose DA is issued and whose schooling is closed today (end date ≤ today).
    `exclude`: rows this transaction holds already (SKIP LOCKED does not skip one's own locks)."""
    if limit < 1:
        return []
    rows = await conn.fetch(
        DECISION_INPUTS + "WHERE q.kind = 'abrogation' AND s.end_date <= $2 AND q.schooling_id <> ALL($3::uuid[]) "
        "ORDER BY q.queued_at, q.schooling_id LIMIT $1 FOR UPDATE OF q SKIP LOCKED",
        limit, today, list(exclude or []),
    )
    return decision_inputs(rows)


async def claim_withdrawals(conn: Connection, limit: int, exclude: list[UUID] | None = None) -> list[dict[str, Any]]:
    """Queued retraits whose DA is issued (`exclude`: rows this transaction holds already)."""
    if limit < 1:
        return []
    rows = await conn.fetch(
        DECISION_INPUTS + "WHERE q.kind = 'withdrawal' AND q.schooling_id <> ALL($2::uuid[]) "
        "ORDER BY q.queued_at, q.schooling_id LIMIT $1 FOR UPDATE OF q SKIP LOCKED",
        limit, list(exclude or []),
    )
    return decision_inputs(rows)


async def issued_decision_inputs(conn: Connection, schooling_id: UUID) -> dict[str, Any] | None:
    """What an abrogation or a retrait of this schooling prints, as it stands now; None without an issued DA."""
    rows = await conn.fetch(decision_inputs_sql(ONE_SCHOOLING), schooling_id)
    return decision_inputs(rows)[0] if rows else None


async def next_version(conn: Connection, schooling_id: UUID, kind: str) -> int:
    """Abrogations and états liquidatifs count their own versions; they never enter a number."""
    value = await conn.fetchval(
        "SELECT coalesce(max(version), 0) + 1 FROM documents WHERE schooling_id = $1 AND kind = $2",
        schooling_id, kind,
    )
    return int(value)


async def issued_attributions(
    conn: Connection, uai: str, school_year: int, schooling_id: UUID | None = None
) -> list[dict[str, Any]]:
    """Each schooling of an establishment and year that has a DA (hidden ones included), with its current
    version and whether its DA is final (abrogated, or withdrawn or about to be): the reissue's scope."""
    rows = await conn.fetch(
        "SELECT s.schooling_id, max(d.version) AS version, "
        "EXISTS (SELECT 1 FROM documents x WHERE x.schooling_id = s.schooling_id "
        "AND x.kind IN ('abrogation', 'withdrawal')) "
        "OR EXISTS (SELECT 1 FROM render_queue q WHERE q.schooling_id = s.schooling_id AND q.kind = 'withdrawal') "
        "AS final FROM schoolings s JOIN documents d ON d.schooling_id = s.schooling_id AND d.kind = 'attribution' "
        "WHERE s.establishment->>'uai' = $1 AND s.school_year = $2 AND ($3::uuid IS NULL OR s.schooling_id = $3) "
        "GROUP BY s.schooling_id ORDER BY s.schooling_id",
        uai, school_year, schooling_id,
    )
    return [dict(r) for r in rows]


async def enqueue_reissue(conn: Connection, schooling_ids: list[UUID], detail: dict[str, Any]) -> None:
    """Queue the next version of these schoolings' DAs; a DA already queued becomes a reissue."""
    await conn.execute(
        "INSERT INTO render_queue (schooling_id, kind, detail) SELECT s, 'attribution', $2::jsonb "
        "FROM unnest($1::uuid[]) s ON CONFLICT (schooling_id, kind) DO UPDATE SET detail = EXCLUDED.detail",
        schooling_ids, json.dumps(detail),
    )
