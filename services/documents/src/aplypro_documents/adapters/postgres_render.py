"""SQL of issue-then-render: a document row written at issue with its frozen content, its PDF columns filled
when rendered; the render lanes' claims, failures, and what operators see of the documents not rendered yet."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

# What a render lane needs of a document: the frozen content and what DocumentReady repeats.
_CLAIMED = ("SELECT d.document_id, d.kind, d.schooling_id, d.issued_to AS student_id, d.number, d.version, d.render_payload, "
            "d.pfmp_numbers, d.layout_key, d.object_key, d.render_attempts FROM documents d ")
# Not rendered, not given up, not held by this transaction already; and no document of the same schooling
# issued before it still unrendered: a schooling's DocumentReady events go out in issue order (an état
# liquidatif's never before its DA's, a version's never before the previous one's).
_RENDERABLE = (
    "WHERE d.sha256 IS NULL AND d.render_given_up_at IS NULL AND d.kind = $1 AND d.document_id <> ALL($2::uuid[]) "
    "AND NOT EXISTS (SELECT 1 FROM documents e WHERE e.schooling_id = d.schooling_id AND e.sha256 IS NULL "
    "AND e.issue_seq < d.issue_seq) "
)


async def insert_issued(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The issued documents (number, version, frozen content), out of the issue queue; their PDFs come later.
    One pipelined statement for the batch: the issue lanes are bound by round trips, not by rows."""
    await conn.executemany(
        "INSERT INTO documents (document_id, kind, schooling_id, issued_to, number, version, input_sha256, "
        "render_payload, content_sha256, pfmp_numbers, layout_key, object_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::jsonb, $11, $12)",
        [(row["document_id"], row["kind"], row["schooling_id"], row["student_id"], row["number"], row["version"],
          row.get("input_sha256"), json.dumps(row["render_payload"], ensure_ascii=False), row["content_sha256"],
          json.dumps(row.get("pfmp_numbers") or []), row.get("layout_key"), row["object_key"]) for row in rows],
    )
    await conn.execute(
        "DELETE FROM render_queue q USING unnest($1::uuid[], $2::text[]) AS k(schooling_id, kind) "
        "WHERE q.schooling_id = k.schooling_id AND q.kind = k.kind",
        [row["schooling_id"] for row in rows], [row["kind"] for row in rows],
    )


def _claimed(rows: list[Any]) -> list[dict[str, Any]]:
    return [{**dict(r), "render_payload": json.loads(r["render_payload"]),
             "pfmp_numbers": json.loads(r["pfmp_numbers"]) if r["pfmp_numbers"] else []} for r in rows]  # fmt: skip


async def claim_unrendered(conn: Connection, kind: str, limit: int, held: list[UUID], *,
                           grouped: bool, continue_with: str | None = None) -> list[dict[str, Any]]:
    """Up to `limit` issued documents of a kind to render, oldest issued first, locked for this lane (SKIP
    LOCKED: each in one lane). `grouped`: a layout at a time (DAs of a class, états liquidatifs of an
    establishment share their laid-out pages in the renderer), `continue_with` first. `held`: documents this
    transaction holds already (SKIP LOCKED does not skip one's own locks)."""
    claimed: list[dict[str, Any]] = []
    held = list(held)
    pending = [continue_with] if grouped and continue_with else []
    while len(claimed) < limit:
        if pending:  # the rest of a layout: the seed's, or the one the batch stopped in
            rows = await conn.fetch(
                _CLAIMED + _RENDERABLE + "AND d.layout_key = $4 ORDER BY d.issue_seq LIMIT $3 FOR UPDATE OF d SKIP LOCKED",
                kind, held, limit - len(claimed), pending.pop())  # fmt: skip
            claimed += _claimed(rows)
            held += [r["document_id"] for r in rows]
            continue
        rows = await conn.fetch(_CLAIMED + _RENDERABLE + "ORDER BY d.issue_seq LIMIT $3 FOR UPDATE OF d SKIP LOCKED",
                                kind, held, 1 if grouped else limit - len(claimed))  # fmt: skip
        claimed += _claimed(rows)
        held += [r["document_id"] for r in rows]
        if not rows or not grouped:
            break
        if rows[0]["layout_key"] is not None:
            pending.append(rows[0]["layout_key"])
    return claimed


async def record_rendered(conn: Connection, stored: list[tuple[UUID, str, str, int]]) -> None:
    """(document_id, storage_ref, sha256, size_bytes) of each PDF stored, in one pipelined statement. The frozen
    rendering input goes with it: it holds names, addresses and the IBAN, and nothing reads it once the PDF is
    stored (downloads serve the stored bytes; a reissue compares `input_sha256`; `rerender` only takes documents
    never rendered). The PDF is the record of what was issued."""
    await conn.executemany(
        "UPDATE documents SET storage_ref = $2, sha256 = $3, size_bytes = $4, rendered_at = now(), render_error = NULL, "
        "render_payload = NULL WHERE document_id = $1 AND sha256 IS NULL",
        stored,
    )


async def record_render_failure(conn: Connection, document_ids: list[UUID], error: str, *, attempts: int,
                                final: bool) -> list[UUID]:
    """One more failed attempt each; those past `attempts` (all of them if `final`) are given up: returned."""
    rows = await conn.fetch(
        "UPDATE documents SET render_attempts = render_attempts + 1, render_error = $2, "
        "render_given_up_at = CASE WHEN $4 OR render_attempts + 1 >= $3 THEN now() END "
        "WHERE document_id = ANY($1::uuid[]) RETURNING document_id, render_given_up_at IS NOT NULL AS given_up",
        document_ids, error[:500], attempts, final,
    )
    return [r["document_id"] for r in rows if r["given_up"]]


async def rerender(conn: Connection, document_ids: list[UUID] | None) -> list[UUID]:
    """Give the documents given up (all of them, or these) their attempts back: the render lanes take them again."""
    rows = await conn.fetch(
        "UPDATE documents SET render_given_up_at = NULL, render_attempts = 0 WHERE sha256 IS NULL "
        "AND render_given_up_at IS NOT NULL AND ($1::uuid[] IS NULL OR document_id = ANY($1::uuid[])) "
        "RETURNING document_id",
        document_ids,
    )
    return [r["document_id"] for r in rows]


async def unrendered_summary(conn: Connection) -> list[dict[str, Any]]:
    """Per kind and state (rendering: waiting for a render lane; given_up: dead-lettered, waiting for
    `rerender`): how many issued documents have no PDF yet, and how old the oldest is (seconds)."""
    rows = await conn.fetch(
        "SELECT kind, CASE WHEN render_given_up_at IS NULL THEN 'rendering' ELSE 'given_up' END AS state, "
        "count(*) AS documents, extract(epoch FROM now() - min(created_at))::float8 AS oldest_s "
        "FROM documents WHERE sha256 IS NULL GROUP BY 1, 2 ORDER BY 1, 2")
    return [dict(r) for r in rows]


async def given_up(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT document_id, kind, schooling_id, number, version, render_attempts, render_error, render_given_up_at "
        "FROM documents WHERE sha256 IS NULL AND render_given_up_at IS NOT NULL ORDER BY issue_seq LIMIT $1", limit)
    return [dict(r) for r in rows]
