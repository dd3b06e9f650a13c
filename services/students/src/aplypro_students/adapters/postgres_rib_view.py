"""SQL of the internal API's RIB answers: the INE behind a student id (the record-RIB use case keys by INE)
and a student's active RIB at an establishment, its IBAN masked (bank data leaves this service in full only
on the restricted topic)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection


class RibView(NamedTuple):
    rib_id: UUID
    student_id: UUID
    owner_type: str
    holder_name: str
    iban_masked: str
    bic: str
    version: int
    recorded_by: str | None
    created_at: datetime


def mask_iban(iban: str) -> str:
    """Country and check digits, then the last three characters: enough to recognise an account."""
    hidden = "•" * max(len(iban) - 7, 0)
    masked = iban[:4] + hidden + iban[-3:]
    return " ".join(masked[i:i + 4] for i in range(0, len(masked), 4))


async def ines_of(conn: Connection, student_ids: Sequence[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch("SELECT student_id, ine FROM students WHERE student_id = ANY($1::uuid[])",
                            list(student_ids))
    return {r["student_id"]: r["ine"] for r in rows}


async def active_ribs(conn: Connection, uai: str, student_ids: Sequence[UUID]) -> dict[UUID, RibView]:
    rows = await conn.fetch(
        "SELECT rib_id, student_id, owner_type, holder_name, iban, bic, version, recorded_by, created_at "
        "FROM ribs WHERE uai = $1 AND student_id = ANY($2::uuid[]) AND archived_at IS NULL", uai, list(student_ids))
    return {r["student_id"]: RibView(r["rib_id"], r["student_id"], r["owner_type"], r["holder_name"],
                                     mask_iban(r["iban"]), r["bic"], int(r["version"]), r["recorded_by"],
                                     r["created_at"]) for r in rows}
