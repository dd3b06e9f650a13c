"""Composition root of the calculator process: what it consumes and produces."""

from __future__ import annotations

import structlog
from aplypro_contracts.topics import ASP_EVENTS, CALCULATOR_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription

from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.service_layer.handlers import Handlers
from aplypro_calculator.service_layer.operations import release_parked

log = structlog.get_logger(__name__)


def build_handlers(settings: CalculatorSettings) -> Handlers:
    return Handlers(topic=settings.topic(CALCULATOR_EVENTS),
                    negative_rectifications_enabled=settings.negative_rectifications_enabled)


def build_spec(settings: CalculatorSettings) -> ServiceSpec:
    handlers = build_handlers(settings)
    schema = settings.db_schema("calculator")

    async def release_parked_requests(runtime: ServiceRuntime) -> None:
        """§5.4: parked requests are released when the switch is turned on (here: at start)."""
        if not handlers.negative_rectifications_enabled or runtime.pool is None:
            return
        async with runtime.pool.acquire() as conn, conn.transaction():
            released = await release_parked(conn, handlers, schema)
        log.info("parked_requests_released", pools=released.pools, still_parked=released.still_parked)

    return ServiceSpec(
        name="calculator",
        schema=schema,
        migration_packages=["aplypro_calculator"],
        produces=[CALCULATOR_EVENTS],
        subscriptions=[Subscription(
            # One subscription for all three topics: all are keyed by student, so a pool has one writer.
            topics=[STUDENTS_EVENTS, PFMP_EVENTS, ASP_EVENTS], consumer_name="pricing",
            handlers={"SchoolingOpened": handlers.on_event, "PfmpRecorded": handlers.on_event,
                      "PfmpValidated": handlers.on_event, "PfmpRectified": handlers.on_event,
                      "PaymentRequestSent": handlers.on_event, "PaymentRequestStateChanged": handlers.on_event},
            batch_handler=handlers.on_batch,
        )],
        background=[release_parked_requests],
    )
