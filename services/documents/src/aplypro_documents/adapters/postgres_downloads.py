"""Read queries of the HTTP API: which documents a schooling or a number has, and one document to download.

The lists name rendered documents only (PDF stored): a document issued and not rendered yet has nothing to
download, and its readers learn of it by DocumentReady, as before issue-then-render."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from aplypro_servicekit.db import Connection

_DOCUMENT = (
    "SELECT d.document_id, d.kind, d.schooling_id, s.student_id, d.number, d.version, d.created_at, d.size_bytes, "
    "d.storage_ref, d.sha256, s.establishment->>'uai' AS uai, s.school_year, s.class_label, "
    "st.identity->>'last_name' AS last_name, st.identity->'first_names' AS first_names "
    "FROM documents d JOIN schoolings s USING (schooling_id) LEFT JOIN students st ON st.student_id = s.student_id "
)


def _row(row: Any) -> dict[str, Any]:
    first = row["first_names"]
    return {**dict(row), "first_names": json.loads(first) if first else []}


async def by_number(conn: Connection, number: str) -> list[dict[str, Any]]:
    """Every document known by this number: a DA number of any version names its schooling's documents."""
    rows = await conn.fetch(_DOCUMENT + "WHERE d.number = $1 AND d.sha256 IS NOT NULL ORDER BY d.kind, d.version", number)
    return [_row(r) for r in rows]


async def of_schooling(conn: Connection, schooling_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(_DOCUMENT + "WHERE d.schooling_id = $1 AND d.sha256 IS NOT NULL ORDER BY d.kind, d.version", schooling_id)
    return [_row(r) for r in rows]


async def one(conn: Connection, document_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(_DOCUMENT + "WHERE d.document_id = $1", document_id)
    return None if row is None else _row(row)


async def latest_pfmp_number(conn: Connection, schooling_id: UUID) -> str | None:
    """The number of the schooling's latest requested PFMP: the ASP's name for its état liquidatif."""
    number: str | None = await conn.fetchval(
        "SELECT pfmp_number FROM pfmps WHERE schooling_id = $1 AND pfmp_number IS NOT NULL AND NOT deleted "
        "ORDER BY rank DESC LIMIT 1", schooling_id)
    return number
