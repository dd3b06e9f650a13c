"""SQL of staff invitations (migration 0010): invite, revoke, the live ones of an establishment or an e-mail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection


class Invitation(NamedTuple):
    invitation_id: UUID
    email: str
    invited_by: str
    invited_at: datetime


async def invite(conn: Connection, uai: str, email: str, invited_by: str) -> UUID | None:
    """A live invitation of `email` to `uai`; None when one already is."""
    found: UUID | None = await conn.fetchval(
        "INSERT INTO staff_invitations (invitation_id, uai, email, invited_by) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (uai, email) WHERE revoked_at IS NULL DO NOTHING RETURNING invitation_id",
        uuid.uuid4(), uai, email, invited_by)
    return found


async def revoke(conn: Connection, uai: str, invitation_id: UUID, revoked_by: str) -> bool:
    """False when there is no live invitation with this id in this establishment."""
    status = await conn.execute("UPDATE staff_invitations SET revoked_by = $3, revoked_at = now() "
                                "WHERE invitation_id = $1 AND uai = $2 AND revoked_at IS NULL",
                                invitation_id, uai, revoked_by)
    return status.endswith(" 1")


async def of_establishment(conn: Connection, uai: str) -> list[Invitation]:
    rows = await conn.fetch("SELECT invitation_id, email, invited_by, invited_at FROM staff_invitations "
                            "WHERE uai = $1 AND revoked_at IS NULL ORDER BY email", uai)
    return [Invitation(*r.values()) for r in rows]


async def establishments_of(conn: Connection, email: str) -> list[str]:
    """The UAIs where this e-mail is invited (read at every login)."""
    rows = await conn.fetch("SELECT uai FROM staff_invitations WHERE email = $1 AND revoked_at IS NULL", email)
    return [r["uai"] for r in rows]
