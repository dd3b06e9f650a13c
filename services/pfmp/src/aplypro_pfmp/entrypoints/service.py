"""Composition root of the pfmp service process: what it consumes and produces."""

from __future__ import annotations

from aplypro_contracts.topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
)
from aplypro_servicekit.runtime import ServiceSpec, Subscription

from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.service_layer import facts, projection


def build_spec(settings: PfmpSettings) -> ServiceSpec:
    return ServiceSpec(
        name="pfmp",
        schema=settings.db_schema("pfmp"),
        migration_packages=["aplypro_pfmp"],
        produces=[PFMP_EVENTS],
        subscriptions=[Subscription(
            topics=[STUDENTS_EVENTS], consumer_name="students-projection",
            handlers={"StudentRegistered": projection.on_student_registered,
                      "SchoolingOpened": projection.on_schooling_opened,
                      "RibOnFile": projection.on_rib_on_file,
                      "SchoolingHiddenChanged": projection.on_schooling_hidden_changed,
                      "StudentIneStatusChanged": projection.on_ine_status_changed,
                      "EstablishmentRegistered": projection.on_establishment_registered,
                      "StudentsMerged": projection.on_students_merged},
        ), Subscription(
            # Payment-request states lock edits and deletions; DAs gate validation (lifecycles.md §1).
            topics=[CALCULATOR_EVENTS, ASP_EVENTS, DOCUMENTS_EVENTS], consumer_name=facts.CONSUMER,
            handlers=facts.HANDLERS,
        )],
    )
