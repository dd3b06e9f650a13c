"""SQL of the send side: what the ASP's caps have used, requests bound to a built file (`ready`), the upload
recorded (`ready → sent`), and the G5 watch over requests the ASP has not answered or paid."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters.recheck_flags import flag_pending
from aplypro_asp_gateway.domain.schedule import Usage


async def usage(conn: Connection, day_start: datetime, day_end: datetime, week_start: datetime) -> Usage:
    """Files and records uploaded today and this week, plus every file built and not uploaded yet: it goes at
    this run (or the next one in the window), so it is counted where it will land (G6)."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE written_at IS NULL OR (written_at >= $1 AND written_at < $2)) AS files, "
        "coalesce(sum(record_count) FILTER (WHERE written_at IS NULL OR (written_at >= $3 AND written_at < $2)), "
        "0) AS records FROM asp_files WHERE written_at IS NULL OR written_at >= $3",
        day_start, day_end, week_start)
    assert row is not None  # an aggregate always returns its row
    return Usage(int(row["files"]), int(row["records"]))


async def bind_to_file(conn: Connection, file_name: str, taken: Sequence[tuple[UUID, UUID]]) -> list[Any]:
    """Requests `(id, rib_id)` put in the built file: `ready`, bound to it, with the RIB used (frozen). They
    leave every later batch (state) and stay out of any other file (file_records). Returns the rows bound, each
    with its new event version, for their PaymentRequestStateChanged `ready` (the RIB frozen from now on; grouped by service_layer/moves.py)."""
    return await conn.fetch(
        "UPDATE payment_requests pr SET state = 'ready', file_name = $1, rib_id = d.rib_id, "
        "blocking_reasons = '{}', recheck = false, event_version = pr.event_version + 1 "
        "FROM unnest($2::uuid[], $3::uuid[]) AS d(id, rib_id) WHERE pr.payment_request_id = d.id "
        "AND pr.state = 'pending' RETURNING pr.payment_request_id, pr.pfmp_id, pr.student_id, pr.event_version, "
        "pr.correlation_id, pr.requested_event_id, pr.rib_id",
        file_name, [t[0] for t in taken], [t[1] for t in taken])


async def mark_uploaded(conn: Connection, name: str, at: datetime | None, *, destination: str | None,
                        outcome: str) -> bool:
    """The file is in the drop folder (or an answer proved the ASP has it); False when already recorded."""
    return await conn.fetchval(
        "UPDATE asp_files SET written_at = coalesce($2, now()), handover_unconfirmed = $4 = 'unconfirmed', "
        "destination = coalesce($3, destination), handover_outcome = $4 "
        "WHERE file_name = $1 AND written_at IS NULL RETURNING true", name, at, destination, outcome) is not None


async def mark_sent(conn: Connection, name: str, at: datetime | None) -> list[Any]:
    """The file's `ready` requests become `sent`: rows for their PaymentRequestSent (new event version; grouped by
    service_layer/moves.py)."""
    return await conn.fetch(
        "UPDATE payment_requests SET state = 'sent', sent_at = coalesce($2, now()), "
        "event_version = event_version + 1 WHERE file_name = $1 AND state = 'ready' "
        "RETURNING payment_request_id, pfmp_id, student_id, amount_cents, requested_event_id, correlation_id, "
        "event_version, rib_id", name, at)


async def unrecorded_upload(conn: Connection, name: str | None) -> bool:
    """The payment file of this name was staged (whole under its temporary name, so perhaps renamed and taken)
    and its upload is not recorded. A file never staged was never handed over: an answer to it proves nothing."""
    if name is None:
        return False
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM asp_files WHERE file_name = $1 "
                                    "AND staged_at IS NOT NULL AND written_at IS NULL)", name))


async def flag_answers_overdue(conn: Connection, cutoff: datetime, at: datetime) -> list[Any]:
    """G5: `sent` requests uploaded at or before `cutoff` and still unanswered, flagged once (rows returned),
    and every pending request of their students flagged for a new check: one held behind them as
    `awaiting_asp_integration` then shows `awaiting_asp_answer_overdue`."""
    rows = await conn.fetch(
        "UPDATE payment_requests SET answer_overdue_at = $2 WHERE state = 'sent' AND sent_at <= $1 "
        "AND answer_overdue_at IS NULL RETURNING payment_request_id, student_id, file_name", cutoff, at)
    await flag_pending(conn, [r["student_id"] for r in rows])
    return rows


async def flag_payments_overdue(conn: Connection, cutoff: datetime, at: datetime) -> int:
    """G5: `integrated` requests answered at or before `cutoff` and not paid yet, flagged once."""
    done = await conn.fetchval(
        "WITH f AS (UPDATE payment_requests SET payment_overdue_at = $2 WHERE state = 'integrated' "
        "AND answered_at <= $1 AND payment_overdue_at IS NULL RETURNING 1) SELECT count(*) FROM f", cutoff, at)
    return int(done)


async def status(conn: Connection, last: int = 5) -> dict[str, Any]:
    """Requests in a built file not uploaded yet, the G5 reports still open, and the last files built (names,
    counts and times only)."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE state = 'ready') AS ready, "
        "count(*) FILTER (WHERE state = 'sent' AND answer_overdue_at IS NOT NULL) AS answers_overdue, "
        "count(*) FILTER (WHERE state = 'integrated' AND payment_overdue_at IS NOT NULL) AS payments_overdue "
        "FROM payment_requests")
    assert row is not None
    files = await conn.fetch(
        "SELECT file_name, kind, record_count, built_at, written_at, destination, handover_outcome FROM asp_files "
        "ORDER BY name_stamp DESC, file_name DESC LIMIT $1", last)
    return {"ready": int(row["ready"]), "answers_overdue": int(row["answers_overdue"]),
            "payments_overdue": int(row["payments_overdue"]),
            # newest first; `uploaded_at` None: built, its handover not recorded yet (it goes with the next send)
            "last_files_sent": [{"file_name": f["file_name"], "kind": f["kind"], "records": f["record_count"],
                                 "built_at": f["built_at"].isoformat(),
                                 "uploaded_at": f["written_at"].isoformat() if f["written_at"] else None,
                                 "destination": f["destination"], "outcome": f["handover_outcome"]}
                                for f in files]}
