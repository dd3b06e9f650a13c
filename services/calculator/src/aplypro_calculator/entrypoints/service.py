"""Composition root of the calculator process: what it consumes and produces."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from aplypro_contracts import DOCUMENT_KIND_HEADER, SCHOOLING_STATE_EVENTS, STUDENT_STATE_EVENTS
from aplypro_contracts.topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
    STUDENTS_RIBS,
)
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription

from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.entrypoints.gauges import CALCULATOR_GAUGES
from aplypro_calculator.service_layer.evaluation import evaluate_due
from aplypro_calculator.service_layer.handlers import Handlers
from aplypro_calculator.service_layer.operations import release_parked

log = structlog.get_logger(__name__)


def build_handlers(settings: CalculatorSettings) -> Handlers:
    return Handlers(topic=settings.topic(CALCULATOR_EVENTS),
                    negative_rectifications_enabled=settings.negative_rectifications_enabled,
                    evaluation_cooldown=settings.evaluation_cooldown)


def build_spec(settings: CalculatorSettings) -> ServiceSpec:
    handlers = build_handlers(settings)
    schema = settings.db_schema("calculator")

    async def release_parked_requests(runtime: ServiceRuntime) -> None:
        """§5.4: parked requests are released when the switch is turned on (here: at start)."""
        if not handlers.negative_rectifications_enabled or runtime.pool is None:
            return
        async with runtime.pool.acquire() as conn, conn.transaction():
            released = await release_parked(conn, handlers)
        log.info("parked_requests_released", pools=released.pools, still_parked=released.still_parked)

    async def evaluate_due_requests(runtime: ServiceRuntime) -> None:
        """lifecycles.md §5: evaluate the requests whose cool-down has passed, every interval, in batches.

        Runs with any cool-down: with `none` it finds nothing to do, unless requests were created under
        `next_midnight` or before the requests had a due time.
        """
        if runtime.pool is None:
            return
        while True:
            done = await evaluate_due(runtime.pool, handlers, now=datetime.now(UTC),
                                      batch_size=settings.evaluation_batch_size)
            if done.requests or done.skipped:
                log.info("due_requests_evaluated", requests=done.requests, ready=done.ready, blocked=done.blocked,
                         pools=done.pools, events=done.events, left_for_next_pass=done.skipped)
            await asyncio.sleep(settings.evaluation_interval_s)

    return ServiceSpec(
        name="calculator",
        schema=schema,
        migration_packages=["aplypro_calculator"],
        produces=[CALCULATOR_EVENTS],
        subscriptions=[Subscription(
            # One subscription for all five topics: all are keyed by student, so a pool has one writer. From
            # the restricted RIB topic only the student and establishment ids are read (automatic retries).
            # The documents' DAs join it rather than a consumer of their own: a second writer could commit a
            # DA while an evaluation that had not seen it commits its request blocked, never to be released.
            topics=[STUDENTS_EVENTS, PFMP_EVENTS, ASP_EVENTS, STUDENTS_RIBS, DOCUMENTS_EVENTS], consumer_name="pricing",
            handlers={**dict.fromkeys(SCHOOLING_STATE_EVENTS, handlers.on_event),  # each the full state
                      "PfmpRecorded": handlers.on_event,
                      "PfmpValidated": handlers.on_event, "PfmpRectified": handlers.on_event,
                      "PaymentRetryRequested": handlers.on_event, "RibRecorded": handlers.on_event,
                      # Only the address is read, as a fingerprint: an address change retries rejections.
                      **dict.fromkeys(STUDENT_STATE_EVENTS, handlers.on_event),
                      "PaymentRequestSent": handlers.on_event, "PaymentRequestStateChanged": handlers.on_event,
                      # Many requests' sent, states or holds in one event (a payment file's step): its parts.
                      "PaymentRequestsMoved": handlers.on_moves,
                      # A DA from its issue (no wait for its PDF); its DocumentReady, or one from before.
                      "DocumentIssued": handlers.on_event, "DocumentReady": handlers.on_event,
                      # pfmp's report of a closed schooling: reason pfmp_outside_schooling_dates.
                      "SchoolingExtended": handlers.on_event,
                      # The students service hides a schooling (removed, or retracted): reason hidden_schooling.
                      "SchoolingHiddenChanged": handlers.on_event,
                      # The students service merged two students: one yearly cap for the pair.
                      "StudentsMerged": handlers.on_event,
                      # An operator's exclusion in the students service (keyed by UAI): reason excluded_schooling.
                      "ExclusionChanged": handlers.on_event,
                      # Why the gateway holds a request back: shown by explain and status, nothing else.
                      "PaymentRequestHeld": handlers.on_event},
            batch_handler=handlers.on_batch,
            # An état liquidatif is no decision (domain/decisions.KINDS): skipped unparsed, one a schooling.
            skip_headers={DOCUMENT_KIND_HEADER: frozenset({"liquidation"})},
        )],
        background=[release_parked_requests, evaluate_due_requests],
        gauges=CALCULATOR_GAUGES,
    )
