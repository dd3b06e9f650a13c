"""Keeps the gateway's view of students, schoolings, caps, RIBs, payment requests, INE statuses, DA numbers and
withdrawn DAs from other services' events, and follows student merges (service_layer/merges.py).

Handlers run inside the consumer's transaction, after its inbox claimed the event.
"""

from __future__ import annotations

import structlog
from aplypro_contracts import (
    SCHOOLING_STATE_EVENTS,
    STUDENT_STATE_EVENTS,
    DocumentIssued,
    DocumentReady,
    Envelope,
    PaymentRequested,
    PaymentRetryRequested,
    RibArchived,
    RibRecorded,
    SchoolingHiddenChanged,
    SchoolingPriced,
    SchoolingState,
    StudentIneStatusChanged,
    StudentsMerged,
    StudentState,
)
from aplypro_servicekit.consumer import BatchHandler, EventHandler, in_batch_order
from aplypro_servicekit.db import Connection

from aplypro_asp_gateway.adapters import pfmp_numbers_repo, retry_repo
from aplypro_asp_gateway.adapters import projection_repo as repo
from aplypro_asp_gateway.service_layer.merges import (
    following_merges,
    on_students_merged,
    repointed,
    survivors_of,
)

log = structlog.get_logger(__name__)


async def _stale(conn: Connection, event_type: str, aggregate_id: str, version: int) -> None:
    """An event older than (or a replay of) the state held: dropped, counted, logged without personal data."""
    await repo.count_stale(conn, event_type)
    log.info("stale_event_dropped", event_type=event_type, aggregate_id=aggregate_id, version=version)


async def on_student_registered(conn: Connection, event: StudentState) -> None:
    """StudentRegistered, StudentIdentityChanged, StudentAddressChanged: each carries the full identity."""
    identity, address = event.identity, event.identity.address
    if not await repo.upsert_student(
        conn, event.student_id, event.occurred_at, last_name=identity.last_name,
        first_names=list(identity.first_names), birth_date=identity.birth_date, sex=identity.sex,
        birth_city_insee=identity.birth_city_insee, birth_country_insee=identity.birth_country_insee,
        postal_code=address.postal_code, city_insee=address.city_insee, country_insee=address.country_insee,
        address_lines=list(address.lines), city_name=address.city_name, version=event.version,
    ):
        await _stale(conn, event.event_type, str(event.student_id), event.version)


async def on_schooling_opened(conn: Connection, event: SchoolingState) -> None:
    """SchoolingOpened, SchoolingChanged, SchoolingClosed, SchoolingReopened: the full state, one version sequence
    per schooling, so each is applied alike and an older one is dropped."""
    if not await repo.upsert_schooling(
        conn, event.schooling_id, event.student_id, event.occurred_at, uai=event.establishment.uai,
        contract_type_code=event.establishment.contract_type_code, mef_code=event.mef.code,
        mef_ministry=event.mef.ministry, school_year=event.school_year, status=event.status,
        start_date=event.start_date, end_date=event.end_date, version=event.version,
        establishment_city_insee=event.establishment.city_insee,
        establishment_postal_code=event.establishment.postal_code,
    ):
        await _stale(conn, event.event_type, str(event.schooling_id), event.version)


async def on_schooling_hidden_changed(conn: Connection, event: SchoolingHiddenChanged) -> None:
    """A hidden schooling is not paid (hidden_schooling): its requests not yet in a file are held back. One
    already in a file cannot be called back (the students service refuses a retraction once a payment request
    exists, but may not have seen it yet): logged, so that operators follow it."""
    sent = await repo.upsert_hidden(conn, event.schooling_id, event.student_id, hidden=event.hidden,
                                    version=event.version)
    if sent is None:
        await _stale(conn, event.event_type, str(event.schooling_id), event.version)
    elif sent:
        log.warning("schooling_hidden_after_sent", schooling_id=str(event.schooling_id),
                    payment_request_ids=[str(i) for i in sent])


async def on_schooling_priced(conn: Connection, event: SchoolingPriced) -> None:
    """The yearly cap is `MONTANTTOTALENGAGE`; without it the file carries the amount itself."""
    await repo.upsert_cap(conn, event.schooling_id, event.student_id, event.occurred_at,
                          event.yearly_cap_cents if event.priced else None)


async def on_rib_recorded(conn: Connection, event: RibRecorded) -> None:
    if not await repo.upsert_rib(
        conn, event.student_id, event.establishment_uai, event.occurred_at, rib_id=event.rib_id,
        owner_type=event.owner_type, holder_name=event.holder_name, iban=event.iban, bic=event.bic,
        version=event.version,
    ):
        await _stale(conn, event.event_type, str(event.rib_id), event.version)


async def on_rib_archived(conn: Connection, event: RibArchived) -> None:
    """An archived RIB is never put in a file again: a request not built yet waits for the current one
    (missing_rib); one already in a file keeps the RIB frozen on it."""
    if not await repo.archive_rib(conn, event.rib_id, event.version):
        await _stale(conn, event.event_type, str(event.rib_id), event.version)


async def on_payment_requested(conn: Connection, event: PaymentRequested) -> None:
    if not await repo.insert_request(
        conn, payment_request_id=event.payment_request_id, pfmp_id=event.pfmp_id,
        schooling_id=event.schooling_id, student_id=event.student_id, amount_cents=event.amount_cents,
        day_count=event.day_count, pfmp_rank=event.pfmp_rank, event_id=event.event_id,
        correlation_id=event.correlation_id, requested_at=event.occurred_at, version=event.version,
        rectification=event.rectification, pfmp_start_date=event.pfmp_start_date,
    ):
        await _stale(conn, event.event_type, str(event.payment_request_id), event.version)


async def on_ine_status_changed(conn: Connection, event: StudentIneStatusChanged) -> None:
    """ine_not_found (lifecycles.md §4 #2): set when the student API lost the INE, lifted when found again."""
    if not await repo.upsert_ine_status(conn, event.student_id, not_found=event.ine_status == "not_found",
                                        version=event.version):
        await _stale(conn, event.event_type, str(event.student_id), event.version)


async def on_document(conn: Connection, event: DocumentIssued | DocumentReady) -> None:
    """A document counts from its issue (DocumentIssued: number and content fixed), so a payment never waits for
    the renderer; its DocumentReady then is the same fact and changes nothing. A DocumentReady whose issue was
    never seen (older than issue-then-render, or replayed) is applied as the issue would have been.

    A DA issued (or reissued) gives the schooling's DA number, the one the file carries (DOSSIER/NUMADM). A
    retrait holds back the schooling's requests not yet in a file (attributive_decision_cancelled); one
    already sent cannot be called back: it is marked and logged so that the recovery is followed. An abrogation
    changes nothing here: the abrogated DA stays the schooling's latest, and its PFMPs before the change are
    still paid under it (documents.md §5.2). An état liquidatif gives the numbers it printed for its PFMPs: the
    ones the file carries (PRESTADOSS/NUMADM, §4.3)."""
    if event.kind == "attribution":
        # `version` is the DA's own version (its number's last digit): the newest DA wins, an older one is stale.
        if await repo.upsert_decision(conn, event.schooling_id, event.student_id, event.occurred_at,
                                      number=event.number, version=event.version) == "stale":
            await _stale(conn, event.event_type, str(event.schooling_id), event.version)
        return
    if event.kind == "liquidation":
        await _keep_pfmp_numbers(conn, event)  # the first announcement is kept: the second one is a no-op
        return
    if event.kind != "retrait":
        return  # the other DA gates are the calculator's, decided before the request is handed over
    sent = await repo.record_withdrawal(conn, event.schooling_id, event.student_id, event.occurred_at)
    if sent:
        log.warning("decision_withdrawn_after_sent", schooling_id=str(event.schooling_id),
                    payment_request_ids=[str(i) for i in sent])


async def _keep_pfmp_numbers(conn: Connection, event: DocumentIssued | DocumentReady) -> None:
    """Older messages carry no numbers: those PFMPs keep the fallback (DA current at the first file + rank)."""
    conflicts = await pfmp_numbers_repo.keep_printed(
        conn, event.schooling_id, [(p.pfmp_id, p.number) for p in event.pfmp_numbers], version=event.version,
        at=event.occurred_at)
    for conflict in conflicts:
        # Never silently: a number printed unlike the one kept or sent. The one kept (or sent: the ASP holds the
        # prestation under it) stays; an operator compares the état liquidatif with the file.
        log.warning("pfmp_number_differs", code="pfmp_number_differs", pfmp_id=str(conflict.pfmp_id),
                    schooling_id=str(event.schooling_id), against=conflict.against, version=event.version)


async def on_retry_requested(conn: Connection, event: PaymentRetryRequested) -> None:
    """The confirmed director's "retenter" (lifecycles.md §2): a request blocked here waits for an event
    touching its data, and some fixes bring none (a setting corrected, a reason the ASP's instructions lifted);
    it is checked again at the next build. A request not held here is the calculator's (blocked there, or a
    "relancer" of a terminal one): nothing to do."""
    state = await retry_repo.recheck_request(conn, event.payment_request_id, event.student_id)
    log.info("payment_recheck_asked" if state == "pending" else "payment_recheck_ignored",
             payment_request_id=str(event.payment_request_id), state=state, reason=event.reason)


def _following_merges(handlers: dict[str, EventHandler]) -> dict[str, EventHandler]:
    """Each handler once wrapped: the types of one state group keep one handler (tests/test_architecture.py)."""
    wrapped = {handler: following_merges(handler) for handler in set(handlers.values())}
    return {event_type: wrapped[handler] for event_type, handler in handlers.items()}


_HANDLERS: dict[str, dict[str, EventHandler]] = {
    # every event with a student's full identity, every one with a schooling's full state (a closing included)
    "students": {**dict.fromkeys(STUDENT_STATE_EVENTS, on_student_registered),
                 **dict.fromkeys(SCHOOLING_STATE_EVENTS, on_schooling_opened),
                 "StudentIneStatusChanged": on_ine_status_changed,
                 "SchoolingHiddenChanged": on_schooling_hidden_changed,
                 "StudentsMerged": on_students_merged},
    "documents": {"DocumentIssued": on_document, "DocumentReady": on_document},
    "ribs": {"RibRecorded": on_rib_recorded, "RibArchived": on_rib_archived},
    "calculator": {"PaymentRequested": on_payment_requested, "SchoolingPriced": on_schooling_priced},
    "pfmp": {"PaymentRetryRequested": on_retry_requested},
}
# each one reading a merged student's event as the survivor's
HANDLERS_BY_TOPIC = {topic: _following_merges(handlers) for topic, handlers in _HANDLERS.items()}


def in_student_order(handlers: dict[str, EventHandler]) -> BatchHandler:
    """A batch handler: the clocks of all the batch's students first (the survivors their merged students' events
    land on included), in one sorted statement, then each event in batch order, re-pointed to the survivor when it
    carries a merged student's id. Two batches (of different topics) then never wait for each other in a cycle.
    The consumers now use projection_batch (which folds, and re-points after each merge of the batch); this one is
    the benches' `before`."""

    in_order = in_batch_order({t: getattr(h, "__wrapped__", h) for t, h in handlers.items()})

    async def apply(conn: Connection, events: list[Envelope]) -> None:
        students = {sid for e in events if (sid := getattr(e, "student_id", None))}
        students |= {sid for e in events if isinstance(e, StudentsMerged) for sid in (e.survivor_id, e.merged_id)}
        await repo.tick_students(conn, sorted(students | set(await survivors_of(conn, events))))
        await in_order(conn, await repointed(conn, events))  # read once the clocks are held: a merge committed

    return apply
