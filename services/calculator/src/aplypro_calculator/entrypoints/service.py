"""Composition root of the calculator process: what it consumes and produces."""

from __future__ import annotations

from aplypro_contracts.topics import CALCULATOR_EVENTS, PFMP_EVENTS, STUDENTS_EVENTS
from aplypro_servicekit.runtime import ServiceSpec, Subscription

from aplypro_calculator.config import CalculatorSettings
from aplypro_calculator.service_layer.handlers import Handlers


def build_spec(settings: CalculatorSettings) -> ServiceSpec:
    handlers = Handlers(topic=settings.topic(CALCULATOR_EVENTS))
    return ServiceSpec(
        name="calculator",
        schema=settings.db_schema("calculator"),
        migration_packages=["aplypro_calculator"],
        produces=[CALCULATOR_EVENTS],
        subscriptions=[Subscription(
            # One subscription for both topics: both are keyed by student, so a pool has one writer.
            topics=[STUDENTS_EVENTS, PFMP_EVENTS], consumer_name="pricing",
            handlers={"SchoolingOpened": handlers.on_event, "PfmpRecorded": handlers.on_event,
                      "PfmpValidated": handlers.on_event},
            batch_handler=handlers.on_batch,
        )],
    )
