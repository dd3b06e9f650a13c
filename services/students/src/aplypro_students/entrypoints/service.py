"""Composition root of the students service process: what it produces and consumes."""

from __future__ import annotations

from aplypro_contracts import DOCUMENT_KIND_HEADER
from aplypro_contracts.topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    STUDENTS_EVENTS,
    STUDENTS_RIBS,
)
from aplypro_servicekit.runtime import ServiceSpec, Subscription

from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.inbound import inbound_subscriptions, rejection_topics
from aplypro_students.entrypoints.nightly import nightly_import
from aplypro_students.entrypoints.sygne_details_lane import gauges, sygne_details_lane
from aplypro_students.service_layer import money_facts

MIGRATION_PACKAGES = ["aplypro_students"]


def build_spec(settings: StudentsSettings) -> ServiceSpec:
    # The process relays the outbox the import commands fill, and consumes the schoolings other
    # ministries' systems publish (one subscription per configured producer, docs/producers.md), and the
    # decisions and payment requests of each schooling, which a producer's retraction must not undo, and the
    # RIBs the asp-gateway froze on requests in progress, which a new RIB must not archive (unarchivable_rib).
    return ServiceSpec(
        name="students",
        schema=settings.db_schema("students"),
        migration_packages=MIGRATION_PACKAGES,
        produces=[STUDENTS_EVENTS, STUDENTS_RIBS, *rejection_topics(settings)],
        subscriptions=[*inbound_subscriptions(settings), Subscription(
            topics=[CALCULATOR_EVENTS, DOCUMENTS_EVENTS, ASP_EVENTS], consumer_name=money_facts.CONSUMER,
            handlers=money_facts.HANDLERS, batch_handler=money_facts.on_batch,
            # Only a DA's issue is a money fact here (money_facts.on_document): an état liquidatif, one a
            # schooling, is skipped unparsed.
            skip_headers={DOCUMENT_KIND_HEADER: frozenset({"liquidation"})})],
        background=[*([nightly_import] if settings.import_hour is not None else []),
                    *([sygne_details_lane] if settings.sygne_details_lane else [])],
        gauges=gauges(settings),
        # The producers' inbound topics and our rejections to them: partitioned as their owners chose.
        foreign_topics=[*(t for sub in inbound_subscriptions(settings) for t in sub.topics),
                        *rejection_topics(settings)],
    )
