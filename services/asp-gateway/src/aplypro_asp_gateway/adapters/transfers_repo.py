"""SQL of the transfers: how each payment file was handed over, and the return files fetched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aplypro_servicekit.db import Connection


@dataclass(frozen=True)
class HandedOver:
    name: str
    records: int
    sha256: str
    destination: str | None
    outcome: str | None


async def handed_over(conn: Connection, names: Sequence[str]) -> list[HandedOver]:
    rows = await conn.fetch("SELECT file_name, record_count, sha256, destination, handover_outcome FROM asp_files "
                            "WHERE file_name = ANY($1) ORDER BY name_stamp", list(names))
    return [HandedOver(r["file_name"], r["record_count"], r["sha256"], r["destination"], r["handover_outcome"])
            for r in rows]


async def record_return(conn: Connection, name: str, sha256: str, content: bytes, source: str) -> bool:
    """Store a fetched return file; False when these very bytes were fetched under this name before."""
    first = await conn.fetchval(
        "INSERT INTO fetched_returns (file_name, sha256, size, content, source) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (file_name, sha256) DO UPDATE SET times_seen = fetched_returns.times_seen + 1 "
        "RETURNING times_seen = 1", name, sha256, len(content), content, source)
    return bool(first)


async def already_fetched(conn: Connection, name: str, size: int) -> bool:
    """A file of this name and size is stored (used when return files are left on the server)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM fetched_returns WHERE file_name = $1 "
                                    "AND size = $2)", name, size))


async def not_ingested(conn: Connection) -> list[tuple[str, bytes]]:
    """Fetched return files whose (name, bytes) were never ingested, oldest first."""
    rows = await conn.fetch(
        "SELECT f.file_name, f.content FROM fetched_returns f WHERE NOT EXISTS (SELECT 1 FROM return_files r "
        "WHERE r.file_name = f.file_name AND r.sha256 = f.sha256) ORDER BY f.fetched_at, f.file_name")
    return [(r["file_name"], bytes(r["content"])) for r in rows]
