"""Composition root of the pfmp service process: what it consumes and produces."""

from __future__ import annotations

from aplypro_contracts import (
    DOCUMENT_KIND_HEADER,
    RIB_STATUS_EVENTS,
    SCHOOLING_STATE_EVENTS,
    STUDENT_STATE_EVENTS,
)
from aplypro_contracts.topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
)
from aplypro_servicekit.consumer import EventHandler
from aplypro_servicekit.runtime import ServiceSpec, Subscription

from aplypro_pfmp.config import PfmpSettings
from aplypro_pfmp.service_layer import facts, facts_batch, projection, projection_batch


def build_spec(settings: PfmpSettings) -> ServiceSpec:
    students: dict[str, EventHandler] = {**dict.fromkeys(STUDENT_STATE_EVENTS, projection.on_student_registered),
                                        **dict.fromkeys(SCHOOLING_STATE_EVENTS, projection.on_schooling_opened),
                                        **dict.fromkeys(RIB_STATUS_EVENTS, projection.on_rib_status),
                                        "SchoolingHiddenChanged": projection.on_schooling_hidden_changed,
                                        "StudentIneStatusChanged": projection.on_ine_status_changed,
                                        "EstablishmentRegistered": projection.on_establishment_registered,
                                        "StudentsMerged": projection.on_students_merged}
    # Both consumers apply a batch under one savepoint (a savepoint per event held them to a few hundred events a
    # second, about 3 million of them in a national import), each folded, a few statements a batch: the students
    # projection's state events (projection_batch), the payment facts (facts_batch.on_batch).
    return ServiceSpec(
        name="pfmp",
        schema=settings.db_schema("pfmp"),
        migration_packages=["aplypro_pfmp"],
        produces=[PFMP_EVENTS],
        subscriptions=[Subscription(
            topics=[STUDENTS_EVENTS], consumer_name="students-projection",
            # Every event with a student's full identity, every one with a schooling's full state: one handler
            # each (a closing never ignored).
            handlers=students, batch_handler=projection_batch.batch_handler(students),
        ), Subscription(
            # Payment-request states lock edits and deletions; DAs gate validation (lifecycles.md §1).
            topics=[CALCULATOR_EVENTS, ASP_EVENTS, DOCUMENTS_EVENTS], consumer_name=facts.CONSUMER,
            handlers=facts.HANDLERS, batch_handler=facts_batch.on_batch,
            # An état liquidatif is no decision (facts.on_document): skipped unparsed, one a schooling.
            skip_headers={DOCUMENT_KIND_HEADER: frozenset({"liquidation"})},
        )],
    )
