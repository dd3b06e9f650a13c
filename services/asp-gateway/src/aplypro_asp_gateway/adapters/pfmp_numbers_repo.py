"""SQL of the PFMP numbers the documents service printed on the états liquidatifs (migration 0012)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection


class NumberConflict(NamedTuple):
    """A PFMP whose announced number differs from the one kept, or from the one a file already carried."""

    pfmp_id: UUID
    against: str  # "printed": an earlier announcement; "sent": a file record (the ASP may hold it)


async def keep_printed(conn: Connection, schooling_id: UUID, numbers: Sequence[tuple[UUID, str]], *,
                       version: int, at: datetime) -> list[NumberConflict]:
    """Store each PFMP's printed number once (the first announcement wins: the documents service never changes
    it); returns the PFMPs whose announced number differs from the one kept or from one already sent."""
    if not numbers:
        return []
    ids, values = [p for p, _ in numbers], [n for _, n in numbers]
    await conn.execute(
        "INSERT INTO printed_pfmp_numbers SELECT p, $1, n, $4, $5 FROM unnest($2::uuid[], $3::text[]) AS t(p, n) "
        "ON CONFLICT (pfmp_id) DO NOTHING", schooling_id, ids, values, version, at)
    rows = await conn.fetch(
        "SELECT t.p AS pfmp_id, CASE WHEN k.number <> t.n THEN 'printed' ELSE 'sent' END AS against "
        "FROM unnest($1::uuid[], $2::text[]) AS t(p, n) JOIN printed_pfmp_numbers k ON k.pfmp_id = t.p "
        "WHERE k.number <> t.n OR EXISTS (SELECT 1 FROM file_records f WHERE f.pfmp_id = t.p "
        "AND f.pfmp_number IS NOT NULL AND f.pfmp_number <> t.n)", ids, values)
    return [NumberConflict(r["pfmp_id"], r["against"]) for r in rows]
