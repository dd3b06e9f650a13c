"""SQL of the commune exception table (imports.md §4): replaced whole by a load, read whole by an import."""

from __future__ import annotations

from aplypro_servicekit.db import Connection

from aplypro_students.domain.communes import CommuneExceptions, CommuneKind


async def replace_commune_exceptions(conn: Connection, exceptions: CommuneExceptions) -> None:
    await conn.execute("DELETE FROM commune_exceptions")
    await conn.executemany(
        "INSERT INTO commune_exceptions (kind, old_code, new_code) VALUES ($1, $2, $3)",
        [(kind.value, old, new) for (kind, old), new in sorted(exceptions.table.items())])


async def commune_exceptions(conn: Connection) -> CommuneExceptions:
    """The whole table: a few hundred rows at most."""
    rows = await conn.fetch("SELECT kind, old_code, new_code FROM commune_exceptions")
    return CommuneExceptions({(CommuneKind(r["kind"]), r["old_code"]): r["new_code"] for r in rows})
