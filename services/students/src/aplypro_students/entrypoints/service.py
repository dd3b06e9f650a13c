"""Composition root of the students service process: what it produces and consumes."""

from __future__ import annotations

from aplypro_contracts.topics import STUDENTS_EVENTS, STUDENTS_RIBS
from aplypro_servicekit.runtime import ServiceSpec

from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.inbound import inbound_subscriptions, rejection_topics
from aplypro_students.entrypoints.nightly import nightly_import

MIGRATION_PACKAGES = ["aplypro_students"]


def build_spec(settings: StudentsSettings) -> ServiceSpec:
    # The process relays the outbox the import commands fill, and consumes the schoolings other
    # ministries' systems publish (one subscription per configured producer, docs/producers.md).
    return ServiceSpec(
        name="students",
        schema=settings.db_schema("students"),
        migration_packages=MIGRATION_PACKAGES,
        produces=[STUDENTS_EVENTS, STUDENTS_RIBS, *rejection_topics(settings)],
        subscriptions=inbound_subscriptions(settings),
        background=[nightly_import] if settings.import_hour is not None else [],
    )
