"""The confirmed director's decision commands from the web application (pfmp's PFMP topic), checked against
what documents holds and turned into queued documents; the renderer (issue.py) then applies its own rules.

* DecisionIssueRequested `missing`: the schooling's DA is queued if it has none issued (a DA the renderer
  dead-lettered is queued again with fresh attempts); one already issued or on its way is left alone.
* DecisionIssueRequested `reissue`: the next version is queued (reissue.py's rule, for one schooling); the
  renderer skips it when its content equals the current version's, and refuses it past version 9. An
  abrogated or withdrawn DA is final: never reissued.
* DecisionAbrogationRequested: the abrogation is queued only when it is due (documents.md §5.2: schooling
  closed, a DA, a more recent schooling in the same year, not abrogated nor withdrawn); otherwise dropped.

A dropped command is logged with why (ids only). A command naming a schooling of another student breaks a
rule and is dead-lettered, as a retrait's is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import structlog
from aplypro_contracts import DecisionAbrogationRequested, DecisionIssueRequested
from aplypro_servicekit.db import Connection

from aplypro_documents.adapters import postgres, postgres_decisions, postgres_hidden
from aplypro_documents.domain.decisions import newer_schooling
from aplypro_documents.domain.errors import NoAttributionDecisionError, SchoolingStudentMismatchError
from aplypro_documents.domain.model import DocumentKind
from aplypro_documents.service_layer.content import paris_today

log = structlog.get_logger(__name__)


async def _state(conn: Connection, event: DecisionIssueRequested | DecisionAbrogationRequested
                 ) -> postgres_decisions.DecisionState | None:
    state = (await postgres_decisions.decision_states(conn, [event.schooling_id])).get(event.schooling_id)
    if state is not None and state.student_id != event.student_id:
        raise SchoolingStudentMismatchError(f"schooling {event.schooling_id} is not the named student's")
    return state


@dataclass(frozen=True)
class DirectorCommands:
    clock: Callable[[], date] = paris_today

    async def on_issue_requested(self, conn: Connection, event: DecisionIssueRequested) -> None:
        state = await _state(conn, event)
        schooling = str(event.schooling_id)
        if state is None:
            # Not known here yet: its DA is queued when the schooling arrives (projection.on_schooling_opened).
            log.info("decision_issue_dropped", schooling_id=schooling, mode=event.mode, reason="unknown_schooling")
            return
        if event.mode == "missing":
            if not state.attribution_issued and await postgres_hidden.is_hidden(conn, event.schooling_id):
                # Hidden (removed, or retracted by its producer) after pfmp asked: no first DA (documents.md §6).
                log.info("decision_issue_dropped", schooling_id=schooling, mode=event.mode, reason="hidden")
                return
            if state.attribution_issued or state.attribution_queued:
                log.info("decision_issue_dropped", schooling_id=schooling, mode=event.mode,
                         reason="issued" if state.attribution_issued else "already_queued")
                return
            await postgres.enqueue_attribution(conn, [event.schooling_id])
            log.info("decision_issue_queued", schooling_id=schooling, mode=event.mode)
            return
        if not state.attribution_issued:
            log.info("decision_issue_dropped", schooling_id=schooling, mode=event.mode, reason="no_attribution")
            return
        if state.abrogated or state.withdrawn:
            log.info("decision_issue_dropped", schooling_id=schooling, mode=event.mode, reason="final")
            return
        await postgres_decisions.enqueue_reissue(conn, [event.schooling_id], {
            "reissue": True, "requested_at": event.occurred_at.isoformat(), "event_id": str(event.event_id)})
        log.info("decision_issue_queued", schooling_id=schooling, mode=event.mode)

    async def on_abrogation_requested(self, conn: Connection, event: DecisionAbrogationRequested) -> None:
        state = await _state(conn, event)
        schooling = str(event.schooling_id)
        if state is None or not state.attribution_expected:
            raise NoAttributionDecisionError(f"schooling {event.schooling_id} has no décision d'attribution")
        if state.abrogated or state.withdrawn:
            log.info("abrogation_dropped", schooling_id=schooling, reason="final")
            return
        spans = (await postgres_decisions.student_schoolings(conn, [event.student_id]))[event.student_id]
        this = next(span for span in spans if span.schooling_id == event.schooling_id)
        today = self.clock()
        if this.end_date is None or this.end_date > today or newer_schooling(this, spans, today) is None:
            # Not abrogeable today (open, or no more recent schooling in the year): nothing is queued.
            log.info("abrogation_dropped", schooling_id=schooling, reason="not_due")
            return
        await postgres.enqueue(conn, event.schooling_id, DocumentKind.ABROGATION, {
            "requested_by": event.requested_by, "event_id": str(event.event_id)})
        log.info("abrogation_queued", schooling_id=schooling, requested=True)
