"""Keeps documents' view of students, schoolings, barème, bank accounts, PFMPs and payment requests, and
queues the documents they call for; the renderer (issue.py) issues them once their inputs are all known."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import structlog
from aplypro_contracts import (
    DecisionWithdrawalRequested,
    PaymentRequested,
    PfmpRecorded,
    PfmpRectified,
    PfmpValidated,
    RibArchived,
    RibRecorded,
    SchoolingHiddenChanged,
    SchoolingPriced,
    SchoolingState,
    StudentState,
)
from aplypro_servicekit.db import Connection

from aplypro_documents.adapters import postgres, postgres_decisions, postgres_hidden, postgres_liquidation
from aplypro_documents.domain.decisions import newer_schooling
from aplypro_documents.domain.errors import (
    DecisionAbrogatedError,
    NoAttributionDecisionError,
    SchoolingStudentMismatchError,
)
from aplypro_documents.domain.model import DocumentKind
from aplypro_documents.domain.numbering import administrative_number
from aplypro_documents.service_layer.content import PARIS, paris_today

log = structlog.get_logger(__name__)
ABROGATION, WITHDRAWAL, LIQUIDATION = DocumentKind.ABROGATION, DocumentKind.WITHDRAWAL, DocumentKind.LIQUIDATION


async def _stale(conn: Connection, event_type: str, aggregate_id: str, version: int) -> None:
    """An event older than (or a replay of) the state held: dropped, counted, logged without personal data."""
    await postgres.count_stale(conn, event_type)
    log.info("stale_event_dropped", event_type=event_type, aggregate_id=aggregate_id, version=version)


@dataclass(frozen=True)
class Projection:
    clock: Callable[[], date] = paris_today

    async def on_student_registered(self, conn: Connection, event: StudentState) -> None:
        """StudentRegistered, StudentIdentityChanged, StudentAddressChanged: each carries the full identity."""
        if not await postgres.upsert_student(conn, event.student_id, event.identity.model_dump(mode="json"),
                                             event.version):
            await _stale(conn, event.event_type, str(event.student_id), event.version)
            return
        await postgres.enqueue_attribution(conn, await postgres.schoolings_of_student(conn, event.student_id))

    async def on_schooling_opened(self, conn: Connection, event: SchoolingState) -> None:
        """SchoolingOpened, SchoolingChanged, SchoolingClosed, SchoolingReopened: the full state, one version
        sequence per schooling, so each is applied alike and an older one is dropped."""
        if not await postgres.upsert_schooling(conn, event.model_dump(), administrative_number()):
            await _stale(conn, event.event_type, str(event.schooling_id), event.version)
            return
        await postgres.enqueue_attribution(conn, [event.schooling_id])
        # The students service closes a schooling (SchoolingClosed, with its end date), and opens the newer
        # one: either event may come last, so each reviews every schooling of the student.
        await self._review_abrogations(conn, event)

    async def on_schooling_hidden_changed(self, conn: Connection, event: SchoolingHiddenChanged) -> None:
        """A hidden schooling (removed by staff, or retracted by the ministry that reported it) gets no first DA:
        one queued is dropped, none is queued while it stays hidden; reintegrated, it gets its DA. One issued
        before the hiding was seen stays (undoing it is a retrait, a director's act): logged for operators, and
        no payment follows, since the calculator and the asp-gateway block its requests (hidden_schooling)."""
        if not await postgres_hidden.upsert_hidden(conn, event.schooling_id, event.student_id, hidden=event.hidden,
                                                   version=event.version):
            await _stale(conn, event.event_type, str(event.schooling_id), event.version)
            return
        schooling = str(event.schooling_id)
        if not event.hidden:
            await postgres.enqueue_attribution(conn, [event.schooling_id])
            log.info("schooling_reintegrated", schooling_id=schooling)
            return
        dropped = await postgres_hidden.unqueue_first_attribution(conn, event.schooling_id)
        if await postgres_hidden.has_attribution(conn, event.schooling_id):
            log.warning("hidden_schooling_has_decision", code="hidden_schooling_has_decision", schooling_id=schooling)
        else:
            log.info("schooling_hidden", schooling_id=schooling, queued_decision_dropped=dropped)

    async def on_schooling_priced(self, conn: Connection, event: SchoolingPriced) -> None:
        await postgres.set_pricing(conn, event.schooling_id, event.priced, event.daily_rate_cents,
                                   event.yearly_cap_cents)
        if event.priced:
            await postgres.enqueue_attribution(conn, [event.schooling_id])

    async def _review_abrogations(self, conn: Connection, event: SchoolingState) -> None:
        """Queue the abrogation of each DA a newer schooling supersedes (lifecycles.md §3); unqueue the
        ones that no longer are. It is issued once the schooling is closed (end date ≤ today)."""
        spans = (await postgres_decisions.student_schoolings(conn, [event.student_id]))[event.student_id]
        states = await postgres_decisions.decision_states(conn, [span.schooling_id for span in spans])
        today = self.clock()
        for span in spans:
            state = states[span.schooling_id]
            newer = newer_schooling(span, spans, today)
            if newer is not None and state.attribution_expected and not state.abrogated and not state.withdrawn:
                await postgres.enqueue(conn, span.schooling_id, ABROGATION)
                log.info("abrogation_queued", schooling_id=str(span.schooling_id),
                         newer_schooling_id=str(newer.schooling_id))
            else:
                await postgres.unqueue(conn, span.schooling_id, ABROGATION)

    async def on_withdrawal_requested(self, conn: Connection, event: DecisionWithdrawalRequested) -> None:
        """Queue the retrait of the schooling's DA, once; the DA may still be on its way to the renderer."""
        state = (await postgres_decisions.decision_states(conn, [event.schooling_id])).get(event.schooling_id)
        if state is None or not state.attribution_expected:
            raise NoAttributionDecisionError(f"schooling {event.schooling_id} has no décision d'attribution")
        if state.student_id != event.student_id:
            raise SchoolingStudentMismatchError(f"schooling {event.schooling_id} is not the named student's")
        if state.withdrawn:
            log.info("withdrawal_already_requested", schooling_id=str(event.schooling_id))
            return
        if state.abrogated:
            raise DecisionAbrogatedError(f"the décision d'attribution of schooling {event.schooling_id} "
                                         "is abrogated: it can no longer be withdrawn")
        # Withdrawn and abrogated are both final: a retrait replaces an abrogation not yet issued.
        await postgres.unqueue(conn, event.schooling_id, ABROGATION)
        await postgres.enqueue(conn, event.schooling_id, WITHDRAWAL, {
            "reason": event.reason, "requested_by": event.requested_by, "event_id": str(event.event_id)})
        log.info("withdrawal_queued", schooling_id=str(event.schooling_id), reason=event.reason)

    async def on_rib_recorded(self, conn: Connection, event: RibRecorded) -> None:
        # Bank details: stored to be printed, never logged. A queued état liquidatif waits for them.
        if not await postgres_liquidation.upsert_rib(conn, event.model_dump(), event.occurred_at):
            await _stale(conn, event.event_type, str(event.rib_id), event.version)

    async def on_rib_archived(self, conn: Connection, event: RibArchived) -> None:
        # Replaced (its RibRecorded follows) or kept archived by a merge: an état liquidatif never prints it.
        if not await postgres_liquidation.archive_rib(conn, event.rib_id, event.version):
            await _stale(conn, event.event_type, str(event.rib_id), event.version)

    async def on_pfmp_recorded(self, conn: Connection, event: PfmpRecorded | PfmpRectified) -> None:
        # A rectified PFMP gets a rectificative section at its next payment request (documents.md §5.4).
        if not await postgres_liquidation.upsert_pfmp(conn, event.pfmp.model_dump(), None):
            await _stale(conn, event.event_type, str(event.pfmp.pfmp_id), event.pfmp.version)

    async def on_pfmp_validated(self, conn: Connection, event: PfmpValidated) -> None:
        # The section of an état liquidatif is dated at validation (documents.md §5.4).
        if not await postgres_liquidation.upsert_pfmp(conn, event.pfmp.model_dump(),
                                                      event.occurred_at.astimezone(PARIS).date()):
            await _stale(conn, event.event_type, str(event.pfmp.pfmp_id), event.pfmp.version)

    async def on_payment_requested(self, conn: Connection, event: PaymentRequested) -> None:
        """Issue or refresh the schooling's état liquidatif: queued once, however many requests arrive."""
        await postgres_liquidation.insert_payment_request(conn, event.model_dump(), event.occurred_at)
        await postgres.enqueue(conn, event.schooling_id, LIQUIDATION)
