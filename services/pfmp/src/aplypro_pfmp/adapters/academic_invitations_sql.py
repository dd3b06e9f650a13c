"""SQL of academic invitations (migration 0014): the national admin invites, revokes; the live ones, and the
academies of an e-mail (read at every login)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from aplypro_servicekit.db import Connection


class AcademicInvitation(NamedTuple):
    invitation_id: UUID
    academy_code: str
    email: str
    invited_by: str
    invited_at: datetime


async def invite(conn: Connection, academy_code: str, email: str, invited_by: str) -> UUID | None:
    """A live invitation of `email` to the academy; None when one already is."""
    found: UUID | None = await conn.fetchval(
        "INSERT INTO academic_invitations (invitation_id, academy_code, email, invited_by) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (academy_code, email) WHERE revoked_at IS NULL DO NOTHING RETURNING invitation_id",
        uuid.uuid4(), academy_code, email, invited_by)
    return found


async def revoke(conn: Connection, invitation_id: UUID, revoked_by: str) -> bool:
    """False when there is no live invitation with this id."""
    status = await conn.execute("UPDATE academic_invitations SET revoked_by = $2, revoked_at = now() "
                                "WHERE invitation_id = $1 AND revoked_at IS NULL", invitation_id, revoked_by)
    return status.endswith(" 1")


async def live(conn: Connection) -> list[AcademicInvitation]:
    rows = await conn.fetch("SELECT invitation_id, academy_code, email, invited_by, invited_at "
                            "FROM academic_invitations WHERE revoked_at IS NULL ORDER BY academy_code, email")
    return [AcademicInvitation(*r.values()) for r in rows]


async def academies_of(conn: Connection, email: str) -> list[str]:
    """The academy codes this e-mail is invited to (read at every login)."""
    rows = await conn.fetch("SELECT academy_code FROM academic_invitations WHERE email = $1 AND revoked_at IS NULL",
                            email)
    return [r["academy_code"] for r in rows]


async def known_academies(conn: Connection) -> list[str]:
    """The academies of the establishments pfmp knows: those an invitation may name."""
    rows = await conn.fetch("SELECT DISTINCT academy_code FROM schoolings WHERE academy_code IS NOT NULL ORDER BY 1")
    return [r["academy_code"] for r in rows]
