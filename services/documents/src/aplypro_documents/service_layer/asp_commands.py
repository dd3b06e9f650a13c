"""The ASP agents' command from the web application (pfmp's PFMP topic): generate or regenerate the état
liquidatif of a dossier they found (features.md §2, ASP row; documents.md §5.4).

LiquidationIssueRequested queues the schooling's état liquidatif again, under the renderer's own rules
(issue.py): its PFMP numbers never change, and a content equal to the latest version's is skipped (it keeps its
version, no document is issued). Nothing is queued, and the drop is logged with why (ids only), for a schooling
documents does not know, without an issued DA, after a retrait (no état liquidatif certifies a payment on a
withdrawn DA) or without any payment request (there is nothing to print). One already queued stays as it is.
A command naming a schooling of another student breaks a rule and is dead-lettered, as the director's are.
"""

from __future__ import annotations

import structlog
from aplypro_contracts import LiquidationIssueRequested
from aplypro_servicekit.db import Connection

from aplypro_documents.adapters import postgres, postgres_decisions, postgres_liquidation
from aplypro_documents.domain.errors import SchoolingStudentMismatchError
from aplypro_documents.domain.model import DocumentKind

log = structlog.get_logger(__name__)


async def on_liquidation_requested(conn: Connection, event: LiquidationIssueRequested) -> None:
    schooling = str(event.schooling_id)
    state = (await postgres_decisions.decision_states(conn, [event.schooling_id])).get(event.schooling_id)
    if state is not None and state.student_id != event.student_id:
        raise SchoolingStudentMismatchError(f"schooling {event.schooling_id} is not the named student's")
    reason = ("unknown_schooling" if state is None else "decision_withdrawn" if state.withdrawn
              else "no_attribution" if not state.attribution_issued else None)
    if reason is None and not (await postgres_liquidation.requested_pfmps(conn, [event.schooling_id]))[
            event.schooling_id]:
        reason = "no_payment_request"
    if reason is not None:
        log.info("liquidation_request_dropped", schooling_id=schooling, reason=reason)
        return
    await postgres.enqueue(conn, event.schooling_id, DocumentKind.LIQUIDATION, {
        "requested_by": event.requested_by, "event_id": str(event.event_id)})
    log.info("liquidation_queued", schooling_id=schooling, requested=True)
