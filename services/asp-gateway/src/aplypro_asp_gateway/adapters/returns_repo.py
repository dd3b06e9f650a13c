"""SQL of the return ingest: files already ingested, the requests a file names (locked), the moves forward,
the lines that matched nothing, the address-correction reports, and the counts `status` shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aplypro_servicekit.db import Connection, json_rows

from aplypro_asp_gateway.adapters import merges_repo
from aplypro_asp_gateway.adapters.recheck_flags import flag_pending
from aplypro_asp_gateway.domain.address_corrections import CorrectionReport
from aplypro_asp_gateway.domain.asp_errors import all_reasons
from aplypro_asp_gateway.domain.return_match import Change, HeldIds, Outcome, RequestView

_WORDS = {r.key: r.words for r in all_reasons()}
_VIEW = """pr.payment_request_id, pr.pfmp_id, pr.student_id, pr.schooling_id, pr.state, fr.pfmp_number,
pr.asp_individual_id, pr.asp_dossier_id, pr.asp_prestation_id, pr.return_reasons, pr.paid_cents, pr.paid_on,
pr.recovery, pr.merged_from"""


def _view(row: Any) -> RequestView:
    return RequestView(
        payment_request_id=row["payment_request_id"], pfmp_id=row["pfmp_id"], student_id=row["student_id"],
        schooling_id=row["schooling_id"], state=row["state"], pfmp_number=row["pfmp_number"],
        individual=row["asp_individual_id"], dossier=row["asp_dossier_id"], prestation=row["asp_prestation_id"],
        reasons=tuple(row["return_reasons"]), paid_cents=row["paid_cents"], paid_on=row["paid_on"],
        recovery=row["recovery"], merged_from=row["merged_from"])


async def lock_ingest(conn: Connection, schema: str) -> None:
    """One ingest at a time per schema: two polls never decide on the same requests together."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"asp-ingest:{schema}")


async def already_ingested(conn: Connection, name: str, sha256: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM return_files WHERE file_name = $1 "
                                    "AND sha256 = $2)", name, sha256))


async def name_ingested(conn: Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM return_files WHERE file_name = $1)", name))


async def defer_once(conn: Connection, name: str, sha256: str) -> bool:
    """True the first time a file is deferred (G4: a payment waits for its integration answer one poll), when
    some request is still waiting for its answer; False once it waited already, or when nothing is waiting."""
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM payment_requests WHERE state = 'sent')"):
        return False
    return await conn.fetchval("INSERT INTO deferred_return_files (file_name, sha256) VALUES ($1, $2) "
                               "ON CONFLICT DO NOTHING RETURNING true", name, sha256) is not None


async def upload_known(conn: Connection, upload_name: str | None) -> bool:
    if upload_name is None:
        return False
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM asp_files WHERE file_name = $1)", upload_name))


async def records_of_upload(conn: Connection, upload_name: str | None, record_ids: Sequence[int]
                            ) -> dict[int, RequestView]:
    """The records of the answered upload that the lines name (§5.5: column 1 MUST belong to that file)."""
    rows = await conn.fetch(
        f"SELECT fr.record_id, {_VIEW} FROM file_records fr JOIN payment_requests pr USING (payment_request_id) "
        "WHERE fr.file_name = $1 AND fr.record_id = ANY($2::bigint[]) ORDER BY pr.payment_request_id "
        "FOR UPDATE OF pr", upload_name, list(record_ids))
    return {r["record_id"]: _view(r) for r in rows}


# A request the ASP already knows: it has a prestation, or its integration was answered.
_KNOWN_TO_ASP = "(asp_prestation_id IS NOT NULL OR state = 'integrated') "


async def held_ids(conn: Connection, requests: Sequence[RequestView], prestations: Sequence[str],
                   individuals: Sequence[str], dossiers: Sequence[str]) -> HeldIds:
    """The ids already stored that the file's lines could clash with: the same ids, or the same objects."""
    rows = await conn.fetch(
        # One indexed lookup per kind of id (migration 0014), not one OR over the six columns: that scanned
        # every request and tested each against every id of the file.
        f"SELECT {_VIEW} FROM payment_requests pr LEFT JOIN file_records fr USING (payment_request_id) "
        "WHERE pr.payment_request_id IN ("
        "SELECT payment_request_id FROM payment_requests WHERE asp_prestation_id = ANY($1::text[]) "
        "UNION SELECT payment_request_id FROM payment_requests WHERE asp_individual_id = ANY($2::text[]) "
        "UNION SELECT payment_request_id FROM payment_requests WHERE asp_dossier_id = ANY($3::text[]) "
        "UNION SELECT payment_request_id FROM payment_requests WHERE pfmp_id = ANY($4::uuid[]) AND " + _KNOWN_TO_ASP
        + "UNION SELECT payment_request_id FROM payment_requests WHERE student_id = ANY($5::uuid[]) AND " + _KNOWN_TO_ASP
        + "UNION SELECT payment_request_id FROM payment_requests WHERE schooling_id = ANY($6::uuid[]) AND "
        + _KNOWN_TO_ASP + ")",
        list(prestations), list(individuals), list(dossiers), [r.pfmp_id for r in requests],
        [r.student_id for r in requests], [r.schooling_id for r in requests])
    held = HeldIds(merged_individuals=await merges_repo.individuals_of_survivors(conn, [r.student_id
                                                                                      for r in requests]))
    for row in rows:
        held.take(_view(row))
    return held


async def requests_of_prestations(conn: Connection, prestations: Sequence[str]) -> dict[str, list[RequestView]]:
    rows = await conn.fetch(
        f"SELECT {_VIEW} FROM payment_requests pr LEFT JOIN file_records fr USING (payment_request_id) "
        "WHERE pr.asp_prestation_id = ANY($1::text[]) ORDER BY pr.payment_request_id FOR UPDATE OF pr",
        list(prestations))
    found: dict[str, list[RequestView]] = {}
    for row in rows:
        found.setdefault(row["asp_prestation_id"], []).append(_view(row))
    return found


async def records_of_correction(conn: Connection, upload_name: str | None, record_ids: Sequence[int]
                                ) -> dict[int, RequestView]:
    """The records of our correction file (`upload_name`) that the lines name (§5.5: matched by the file's name,
    then column 1 within it), each with the ASP ids its PFMP holds now (the latest integration's)."""
    rows = await conn.fetch(
        "SELECT cr.record_id, pr.payment_request_id, pr.pfmp_id, pr.student_id, pr.schooling_id, pr.state, "
        "NULL::text AS pfmp_number, ids.asp_individual_id, ids.asp_dossier_id, ids.asp_prestation_id, "
        "pr.return_reasons, pr.paid_cents, pr.paid_on, pr.recovery, pr.merged_from FROM correction_records cr "
        "JOIN payment_requests pr USING (payment_request_id) "
        "LEFT JOIN LATERAL (SELECT p.asp_individual_id, p.asp_dossier_id, p.asp_prestation_id "
        "                   FROM payment_requests p WHERE p.pfmp_id = pr.pfmp_id AND p.asp_prestation_id IS NOT NULL "
        "                   ORDER BY p.record_id DESC LIMIT 1) ids ON true "
        "WHERE cr.file_name = $1 AND cr.record_id = ANY($2::bigint[])", upload_name, list(record_ids))
    return {r["record_id"]: _view(r) for r in rows}


async def correction_file_known(conn: Connection, upload_name: str | None) -> bool:
    if upload_name is None:
        return False
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM asp_files WHERE file_name = $1 "
                                    "AND kind = 'address_correction')", upload_name))


async def record_corrections(conn: Connection, name: str, sha256: str, kind: str,
                             reports: Sequence[CorrectionReport]) -> None:
    """Every line of an address-correction answer, with its outcome (§5.5): ids and reason keys only."""
    await conn.executemany(
        "INSERT INTO address_correction_returns (file_name, sha256, line_no, kind, record_id, payment_request_id, "
        "outcome, mismatches, reason, motif) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [(name, sha256, r.line_no, kind, r.record_id, r.payment_request_id, r.outcome, list(r.mismatches),
          r.reason, r.motif) for r in reports])


_MOVE = """
WITH d AS (SELECT (r->>0)::uuid AS id, r->>1 AS expected, r->>2 AS state,
                  ARRAY(SELECT jsonb_array_elements_text(r->3)) AS reasons, r->>4 AS individual, r->>5 AS dossier,
                  r->>6 AS prestation, r->>7 AS prestation_numadm, (r->>8)::bigint AS paid_cents,
                  (r->>9)::date AS paid_on, (r->>10)::boolean AS recovery, (r->>11)::int AS line_no
           FROM jsonb_array_elements($1::jsonb) AS r)
UPDATE payment_requests pr SET state = d.state, return_reasons = d.reasons,
       asp_individual_id = COALESCE(d.individual, pr.asp_individual_id),
       asp_dossier_id = COALESCE(d.dossier, pr.asp_dossier_id),
       asp_prestation_id = COALESCE(d.prestation, pr.asp_prestation_id),
       asp_prestation_numadm = COALESCE(d.prestation_numadm, pr.asp_prestation_numadm),
       paid_cents = d.paid_cents, paid_on = d.paid_on, recovery = d.recovery,
       answered_by_file = $2, answered_by_line = d.line_no, answered_at = now(),
       event_version = pr.event_version + 1
FROM d
WHERE pr.payment_request_id = d.id AND pr.state = d.expected
RETURNING pr.payment_request_id, pr.pfmp_id, pr.student_id, pr.state, pr.return_reasons, pr.paid_cents,
          pr.recovery, pr.event_version, pr.correlation_id, pr.requested_event_id, pr.merged_from,
          pr.asp_individual_id, pr.rib_id
"""


async def move(conn: Connection, file_name: str, changes: Sequence[Change]) -> list[Any]:
    """Each request moved forward from the state it was decided in, and only from there (the WHERE): a request
    is never moved twice by the same answer. Returns the rows moved, each with its new event version."""
    if not changes:
        return []
    rows = json_rows(
        (c.payment_request_id, c.expected, c.state, list(c.reasons), c.ids.individual if c.ids else None,
         c.ids.dossier if c.ids else None, c.ids.prestation if c.ids else None,
         c.ids.prestation_numadm if c.ids else None, c.paid_cents, c.paid_on, c.recovery, c.line_no)
        for c in changes)
    moved = await conn.fetch(_MOVE, rows, file_name)
    # A rejected record created nothing at the ASP: its PFMP's retry may leave as a first payment again (0010).
    if rejected := [r["payment_request_id"] for r in moved if r["state"] == "rejected"]:
        await conn.execute("UPDATE file_records SET rejected = true WHERE payment_request_id = ANY($1::uuid[])",
                           rejected)
    return moved


async def wake_waiting(conn: Connection, students: Sequence[Any]) -> None:
    """Flag the pending requests of these students for a new check: one may wait (`awaiting_asp_integration`)
    for the answer just applied. Every pending one, whatever its reasons and flag: a build that checked it
    before this answer commits holds its row, so the flag waits for the build and lands after it; a build
    that comes later skips the row the flag locks until the commit (no lost wake-up: recheck_flags)."""
    await flag_pending(conn, students)


async def record_file(conn: Connection, name: str, sha256: str, kind: str, upload_name: str | None,
                      outcomes: Sequence[Outcome]) -> None:
    count = {s: sum(1 for o in outcomes if o.status == s) for s in ("applied", "duplicate", "unmatched")}
    await conn.execute(
        "INSERT INTO return_files (file_name, sha256, kind, upload_name, lines, applied, duplicates, unmatched) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", name, sha256, kind, upload_name, len(outcomes),
        count["applied"], count["duplicate"], count["unmatched"])
    unmatched = [o for o in outcomes if o.status == "unmatched"]
    await conn.executemany(
        "INSERT INTO unmatched_return_lines (file_name, sha256, line_no, kind, record_id, numadm, prestation_id, why) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(name, sha256, o.line.line_no, o.line.kind.value, o.line.record_id, o.line.numadm,
          o.line.asp_ids.prestation if o.line.asp_ids else None, o.why) for o in unmatched])


async def status(conn: Connection, last: int = 5) -> dict[str, Any]:
    """Requests per state and the last return files received: counts and file names only."""
    states = {r["state"]: int(r["n"]) for r in await conn.fetch(
        "SELECT state, count(*) AS n FROM payment_requests GROUP BY state ORDER BY state")}
    files = await conn.fetch(
        "SELECT file_name, kind, ingested_at, lines, applied, duplicates, unmatched FROM return_files "
        "ORDER BY ingested_at DESC, file_name LIMIT $1", last)
    unmatched = await conn.fetchval("SELECT count(*) FROM unmatched_return_lines")
    corrections = {r["outcome"]: int(r["n"]) for r in await conn.fetch(
        "SELECT outcome, count(*) AS n FROM address_correction_returns GROUP BY outcome ORDER BY outcome")}
    correction_files = await conn.fetchval("SELECT count(*) FROM asp_files WHERE kind = 'address_correction'")
    batches = await conn.fetch(_BATCHES, last)
    reports = await conn.fetch(
        "SELECT file_name, line_no, record_id, payment_request_id, outcome, mismatches, reason "
        "FROM address_correction_returns WHERE outcome <> 'confirmed' ORDER BY seen_at DESC, file_name, line_no "
        "LIMIT $1", 20)
    variants = {r["variant"]: int(r["n"]) for r in await conn.fetch(
        "SELECT variant, count(*) AS n FROM file_records WHERE variant IS NOT NULL GROUP BY variant ORDER BY variant")}
    recoveries = await conn.fetchrow("SELECT count(*) AS n, COALESCE(sum(paid_cents), 0) AS cents "
                                     "FROM payment_requests WHERE state = 'paid' AND recovery")
    return {"states": states, "unmatched_return_lines": int(unmatched), "records_sent": variants,
            "recoveries": {"count": int(recoveries["n"]) if recoveries else 0,
                           "claimed_cents": int(recoveries["cents"]) if recoveries else 0},
            "correction_files": int(correction_files), "address_corrections": corrections,
            "correction_batches": [_batch(b) for b in batches],
            # §5.5: every correction line that is not a confirmation, newest first: the request, each id that
            # differs ("expected X, got Y") or the reject's reason (key and words; the ASP's own text stays in
            # the table, it may quote an IBAN)
            "address_correction_reports": [_report(r) for r in reports],
            "last_returns": [{**dict(f), "ingested_at": f["ingested_at"].isoformat()} for f in files]}


# The latest correction files and their answers' lines per outcome. §5.5: a batch is complete when its
# integration file arrived without rejects.
_BATCHES = """
SELECT f.file_name, f.record_count,
       EXISTS (SELECT 1 FROM return_files r WHERE r.upload_name = f.file_name AND r.kind = 'correction_integrations')
           AS integrations_in,
       count(a.*) FILTER (WHERE a.outcome = 'confirmed') AS confirmed,
       count(a.*) FILTER (WHERE a.outcome = 'ids_mismatch') AS ids_mismatch,
       count(a.*) FILTER (WHERE a.outcome = 'rejected') AS rejected
FROM asp_files f
LEFT JOIN return_files r ON r.upload_name = f.file_name
LEFT JOIN address_correction_returns a ON a.file_name = r.file_name AND a.sha256 = r.sha256
WHERE f.kind = 'address_correction'
GROUP BY f.file_name, f.record_count, f.name_stamp ORDER BY f.name_stamp DESC LIMIT $1
"""


def _batch(row: Any) -> dict[str, Any]:
    return {"file": row["file_name"], "records": row["record_count"], "confirmed": int(row["confirmed"]),
            "ids_mismatch": int(row["ids_mismatch"]), "rejected": int(row["rejected"]),
            "complete": bool(row["integrations_in"]) and not row["rejected"]}


def _report(row: Any) -> dict[str, Any]:
    reason = row["reason"]
    return {"file": row["file_name"], "line": row["line_no"], "record_id": row["record_id"],
            "payment_request_id": str(row["payment_request_id"]) if row["payment_request_id"] else None,
            "outcome": row["outcome"], "mismatches": list(row["mismatches"]), "reason": reason,
            "reason_words": _WORDS.get(reason) if reason else None}
