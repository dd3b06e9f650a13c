"""SQL of the students provider of establishments and its audit trail (provider_changes, 0004)."""

from __future__ import annotations

from collections.abc import Sequence

from aplypro_servicekit.db import Connection


async def set_provider(conn: Connection, uais: Sequence[str], provider: str, by: str) -> tuple[list[str], list[str]]:
    """(changed, unchanged) UAIs; each change leaves an audit row. Unknown UAIs are in neither."""
    rows = await conn.fetch(
        "SELECT uai, students_provider FROM establishments WHERE uai = ANY($1::text[]) ORDER BY uai FOR UPDATE",
        list(uais))
    changed = [r["uai"] for r in rows if r["students_provider"] != provider]
    await conn.executemany(
        "INSERT INTO provider_changes (uai, old_provider, new_provider, changed_by) VALUES ($1, $2, $3, $4)",
        [(r["uai"], r["students_provider"], provider, by) for r in rows if r["uai"] in changed])
    await conn.execute("UPDATE establishments SET students_provider = $2, updated_at = now() "
                       "WHERE uai = ANY($1::text[])", changed, provider)
    return changed, [r["uai"] for r in rows if r["uai"] not in changed]


async def establishments_of(conn: Connection, provider: str) -> list[str]:
    """The UAIs whose students come from `provider`, in order (a resumed run walks them the same way)."""
    rows = await conn.fetch("SELECT uai FROM establishments WHERE students_provider = $1 ORDER BY uai", provider)
    return [r["uai"] for r in rows]


async def provider_history(conn: Connection, uai: str) -> list[dict[str, object]]:
    rows = await conn.fetch("SELECT old_provider, new_provider, changed_by, changed_at FROM provider_changes "
                            "WHERE uai = $1 ORDER BY change_id", uai)
    return [dict(r) for r in rows]
