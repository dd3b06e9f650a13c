"""One schooling's current décision d'attribution, rebuilt from what documents knows now (student page)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from aplypro_documents.adapters import postgres
from aplypro_documents.domain.model import AttributionDecision, DocumentKind
from aplypro_documents.service_layer.issue import PARIS, attribution_from


class SchoolingNotReadyError(LookupError):
    """Unknown schooling, or its student, barème or pricing is not known yet."""

    code = "schooling_not_ready"


class NoDecisionIssuedError(LookupError):
    """The schooling has no décision d'attribution yet: the renderer has not reached it."""

    code = "no_decision_issued"


class StaleDecisionError(ValueError):
    """The inputs changed since issue so that the number differs: a reissue is due (documents.md §6)."""

    code = "stale_decision"


async def current_attribution(pool: asyncpg.Pool, schooling_id: UUID) -> AttributionDecision:
    """The highest issued version, with its issue date and today's inputs, through the issuer's mapping."""
    async with pool.acquire() as conn:
        inputs = await postgres.attribution_inputs(conn, schooling_id)
        issued = await postgres.current_document(conn, schooling_id, DocumentKind.ATTRIBUTION)
    if inputs is None:
        raise SchoolingNotReadyError(f"schooling {schooling_id} is unknown or not priced yet")
    if issued is None:
        raise NoDecisionIssuedError(f"schooling {schooling_id} has no décision d'attribution yet")
    decision = attribution_from(inputs, issued["created_at"].astimezone(PARIS).date(), issued["version"])
    # Never print a number that was not issued: the ASP knows the decision by it.
    if decision.number != issued["number"]:
        raise StaleDecisionError(
            f"décision {issued['number']} no longer matches its inputs (now {decision.number}): reissue it"
        )
    return decision
