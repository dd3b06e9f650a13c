"""SQL of stale DAs (documents.md §6, migration 0018): what a DA was issued from, noted when documents'
DocumentIssued arrives (or DocumentReady, when its issue was not seen), and which DAs in force no longer match
what they would print today.

Each input (the student, the training and establishment, the barème) is compared on its own: a DA is stale on an
input when the input changed after the DA was issued (the event's time is later than the issue's: documents froze
what the DA prints then, so a change between the issue and the PDF is not on it) and its fingerprint differs from
the one the DA was issued from. The time keeps a change documents had already printed, but pfmp heard of later,
from marking the DA; the fingerprint clears the mark when a change is undone."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from aplypro_servicekit.db import Connection

# What pfmp held when the DA was issued: the fingerprint if it predates the DA, '' if it changed after (the DA
# was issued from an older one), null if unknown (that input is not compared).
_AS_ISSUED = "CASE WHEN {sha} IS NULL THEN NULL WHEN {at} <= $2 THEN {sha} ELSE '' END"
_PRICE = "format('%s/%s', sp.daily_rate_cents, sp.yearly_cap_cents)"


async def note_issue(conn: Connection, schooling_id: UUID, issued_at: datetime, *,
                     replayed_version: int | None = None) -> bool:
    """Note what the DA was issued from. `replayed_version`: a replay of the DocumentIssued or DocumentReady of the
    DA held (same version), noted only if the DA was projected before migration 0018. True when noted."""
    noted = await conn.fetchval(
        "UPDATE decisions d SET issued_at = $2, "
        f"identity_sha = (SELECT {_AS_ISSUED.format(sha='st.da_identity_sha', at='st.da_identity_at')} "
        "  FROM schoolings s JOIN students st USING (student_id) WHERE s.schooling_id = $1), "
        f"content_sha = (SELECT {_AS_ISSUED.format(sha='s.da_content_sha', at='s.da_content_at')} "
        "  FROM schoolings s WHERE s.schooling_id = $1), "
        f"price = (SELECT {_AS_ISSUED.format(sha=_PRICE, at='sp.price_changed_at')} "
        "  FROM schooling_prices sp WHERE sp.schooling_id = $1) "
        "WHERE d.schooling_id = $1 AND d.kind = 'attribution' "
        "AND ($3::int IS NULL OR d.version = $3 AND d.issued_at IS NULL) RETURNING true",
        schooling_id, issued_at, replayed_version)
    return noted is not None


# The inputs that changed, per DA in force (issued, neither abrogated nor withdrawn, no withdrawal asked).
_STALE = f"""
SELECT s.schooling_id,
       (d.identity_sha IS NOT NULL AND st.da_identity_at > d.issued_at
        AND st.da_identity_sha IS DISTINCT FROM d.identity_sha) AS student,
       (d.content_sha IS NOT NULL AND s.da_content_at > d.issued_at
        AND s.da_content_sha IS DISTINCT FROM d.content_sha) AS training,
       (d.price IS NOT NULL AND sp.price_changed_at > d.issued_at AND {_PRICE} IS DISTINCT FROM d.price) AS rates
FROM schoolings s JOIN students st USING (student_id)
JOIN decisions d ON d.schooling_id = s.schooling_id AND d.kind = 'attribution'
LEFT JOIN schooling_prices sp ON sp.schooling_id = s.schooling_id
WHERE s.schooling_id = ANY($1::uuid[]) AND d.issued_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM decisions f WHERE f.schooling_id = s.schooling_id AND f.kind <> 'attribution')
  AND NOT EXISTS (SELECT 1 FROM pfmp_actions a WHERE a.action = 'withdraw_decision'
                  AND a.schooling_id = s.schooling_id)
"""
INPUTS = ("student", "training", "rates")


async def stale(conn: Connection, schooling_ids: list[UUID]) -> dict[UUID, tuple[str, ...]]:
    """The stale DAs among these schoolings', each with the inputs (INPUTS) that changed since its issue."""
    out = {}
    for row in await conn.fetch(_STALE, schooling_ids):
        changed = tuple(name for name in INPUTS if row[name])
        if changed:
            out[row["schooling_id"]] = changed
    return out


async def stale_in_scope(conn: Connection, uai: str, school_year: int, class_label: str | None) -> int:
    """How many DAs of the establishment's year (or of one class) are stale."""
    ids = [r["schooling_id"] for r in await conn.fetch(
        "SELECT schooling_id FROM schoolings WHERE uai = $1 AND school_year = $2 "
        "AND ($3::text IS NULL OR class_label = $3)", uai, school_year, class_label)]
    return len(await stale(conn, ids))

