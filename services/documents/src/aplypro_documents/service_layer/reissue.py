"""The confirmed director's reissue of the décisions d'attribution of a school year (documents.md §6,
lifecycles.md §3): queue the next version of every DA of an establishment and year, or of one schooling.

Only the queueing happens here. The issuer (issue.py) renders version n + 1 beside the older ones, skips a
reissue whose content would be identical to the current version, and refuses one past version 9 with
`version_limit_reached` (dead-lettered for that schooling, never capped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg
import structlog

from aplypro_documents.adapters import postgres_decisions
from aplypro_documents.domain.errors import NoAttributionDecisionError
from aplypro_documents.domain.numbering import MAX_VERSION
from aplypro_documents.service_layer.content import PARIS

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReissueRequest:
    queued: list[UUID] = field(default_factory=list)
    at_limit: list[UUID] = field(default_factory=list)  # queued, but refused unless their content is unchanged
    final: list[UUID] = field(default_factory=list)  # abrogated or withdrawn: never reissued


async def request_reissue(
    pool: asyncpg.Pool, *, uai: str, school_year: int, schooling_id: UUID | None = None
) -> ReissueRequest:
    """Queue the reissue of every DA of `uai` and `school_year`, or of the one schooling named."""
    async with pool.acquire() as conn, conn.transaction():
        found = await postgres_decisions.issued_attributions(conn, uai, school_year, schooling_id)
        if schooling_id is not None and not found:
            raise NoAttributionDecisionError(
                f"schooling {schooling_id} has no décision d'attribution issued for {uai} {school_year}")
        request = ReissueRequest(
            queued=[r["schooling_id"] for r in found if not r["final"]],
            at_limit=[r["schooling_id"] for r in found if not r["final"] and r["version"] >= MAX_VERSION],
            final=[r["schooling_id"] for r in found if r["final"]],
        )
        if request.queued:
            await postgres_decisions.enqueue_reissue(
                conn, request.queued, {"reissue": True, "requested_at": datetime.now(PARIS).isoformat()})
    log.info("reissue_queued", uai=uai, school_year=school_year, queued=len(request.queued),
             at_limit=len(request.at_limit), final=len(request.final))
    return request
