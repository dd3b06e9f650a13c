"""The confirmed director (features.md §1): one per establishment, the only one who validates.

The statement is ticked once per establishment; a login whose claims no longer make the user director of
an establishment deletes that confirmation (roles are recomputed at every login).
"""

from __future__ import annotations

from collections.abc import Iterable

from aplypro_servicekit.db import Connection

from aplypro_pfmp.domain.pfmp import PfmpError


async def forget_lost_directorships(conn: Connection, user_id: str, director_of: Iterable[str]) -> int:
    """At login: drop this user's confirmations where the claims no longer make them director."""
    status = await conn.execute("DELETE FROM confirmed_directors WHERE user_id = $1 AND NOT (uai = ANY($2))",
                                user_id, sorted(director_of))
    return int(status.split()[-1])


async def confirmed_director(conn: Connection, uai: str) -> str | None:
    found: str | None = await conn.fetchval("SELECT user_id FROM confirmed_directors WHERE uai = $1", uai)
    return found


async def confirm_director(conn: Connection, uai: str, user_id: str) -> None:
    """The director ticks the statement; refused when another director of the establishment already did."""
    holder = await conn.fetchval(
        "INSERT INTO confirmed_directors (uai, user_id) VALUES ($1, $2) ON CONFLICT (uai) DO UPDATE "
        "SET uai = EXCLUDED.uai RETURNING user_id", uai, user_id)
    if holder != user_id:
        raise PfmpError("director_already_confirmed",
                        "another director is already the confirmed director of this establishment")
