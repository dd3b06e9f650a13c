"""Composition root of the asp-gateway process: what it consumes, produces and builds in the background."""

from __future__ import annotations

import asyncio

import structlog
from aplypro_contracts.topics import (
    ASP_EVENTS,
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
    STUDENTS_RIBS,
)
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription

from aplypro_asp_gateway.config import AspSettings
from aplypro_asp_gateway.domain.model import Parametrage
from aplypro_asp_gateway.entrypoints.gauges import GATEWAY_GAUGES
from aplypro_asp_gateway.service_layer import projection_batch
from aplypro_asp_gateway.service_layer.build import BuildOptions, build_payment_file
from aplypro_asp_gateway.service_layer.handover import transport_for
from aplypro_asp_gateway.service_layer.moves import Grouping
from aplypro_asp_gateway.service_layer.projection import HANDLERS_BY_TOPIC

SCHEMA = "asp_gateway"
log = structlog.get_logger(__name__)


def grouping(settings: AspSettings) -> Grouping:
    """Groups follow the partitions the events topic is created with (the shared APLYPRO_TOPIC_PARTITIONS)."""
    return Grouping(partitions=settings.topic_partitions, grouped=settings.grouped_events)


def build_options(settings: AspSettings) -> BuildOptions:
    params = Parametrage(
        site_operator=settings.codesiteope, user_code=settings.codeutilisateur, dispo=settings.codedispo,
        presta_dispo=settings.codeprestadispo, dispositif=settings.codedispositif,
        unites_suivi=settings.unites_suivi(), funding_off=settings.funding_off_programmes(),
        negative_rectification_blocked=settings.negative_rectification_blocked,
        commune_exceptions=dict(settings.commune_exceptions),
    )
    return BuildOptions(params=params, token=settings.file_token, outbox_dir=settings.outbox_dir,
                        max_records=settings.max_records_per_file, topic=settings.topic(ASP_EVENTS),
                        schema=settings.db_schema(SCHEMA), grouping=grouping(settings),
                        transport=transport_for(settings),
                        schedule=settings.schedule(),
                        answer_timeout_working_days=settings.answer_timeout_working_days,
                        payment_timeout_days=settings.payment_timeout_days)


def build_spec(settings: AspSettings) -> ServiceSpec:
    options = build_options(settings)

    async def build_payment_files(runtime: ServiceRuntime) -> None:
        """Every build_interval_s, one payment file from the ready requests (none when nothing is ready, outside
        the send days and window, or when a cap of §3.4 is reached), after the G5 watch."""
        assert runtime.pool is not None  # the runtime starts background tasks once the pool exists
        while True:
            await build_payment_file(runtime.pool, options)
            await asyncio.sleep(settings.build_interval_s)

    async def poll_asp_returns(runtime: ServiceRuntime) -> None:
        """Every poll_interval_s, what `aplypro-asp-gateway poll` does: the return files fetched and ingested
        (the ingest takes its own lock and knows a file it read already, so a scheduled `poll` beside it is
        harmless). Off unless set."""
        if settings.poll_interval_s is None or runtime.pool is None:
            return
        from aplypro_asp_gateway.entrypoints.poll import poll  # imports this module's SCHEMA

        if settings.sftp_host is None and not settings.inbox_dir.is_dir():
            # Polled all the same (it may appear), but an answer folder that is not there is a setting to check.
            log.warning("asp_inbox_missing", code="asp_inbox_missing", inbox_dir=str(settings.inbox_dir))
        while True:
            try:
                results = await poll(runtime.pool, settings)
            except Exception as exc:  # the ASP's server down, a refused file: tried again at the next interval, not
                # every second (a file a poll deferred once must wait a whole interval, §G4); the type only, never
                # the text (it may quote a return line)
                log.error("asp_poll_failed", code="asp_poll_failed", error=type(exc).__name__)
            else:
                if results:
                    log.info("asp_returns_polled", files=len(results))
            await asyncio.sleep(settings.poll_interval_s)

    return ServiceSpec(
        name="asp-gateway",
        schema=settings.db_schema(SCHEMA),
        migration_packages=["aplypro_asp_gateway"],
        produces=[ASP_EVENTS],
        subscriptions=[
            Subscription([STUDENTS_EVENTS], "students", HANDLERS_BY_TOPIC["students"],
                         batch_handler=projection_batch.batch_handler(HANDLERS_BY_TOPIC["students"])),
            # Restricted topic: bank details; its own consumer keeps it apart from the rest.
            Subscription([STUDENTS_RIBS], "ribs", HANDLERS_BY_TOPIC["ribs"],
                         batch_handler=projection_batch.batch_handler(HANDLERS_BY_TOPIC["ribs"])),
            Subscription([CALCULATOR_EVENTS], "calculator", HANDLERS_BY_TOPIC["calculator"],
                         batch_handler=projection_batch.batch_handler(HANDLERS_BY_TOPIC["calculator"])),
            # DAs: the number the file carries (missing_attributive_decision until it comes); retraits: a request
            # handed over as ready is held back (attributive_decision_cancelled).
            Subscription([DOCUMENTS_EVENTS], "documents", HANDLERS_BY_TOPIC["documents"],
                         batch_handler=projection_batch.batch_handler(HANDLERS_BY_TOPIC["documents"])),
            # The confirmed director's "retenter" of a request held here (only PaymentRetryRequested is read).
            Subscription([PFMP_EVENTS], "pfmp", HANDLERS_BY_TOPIC["pfmp"],
                         batch_handler=projection_batch.batch_handler(HANDLERS_BY_TOPIC["pfmp"])),
        ],
        background=[build_payment_files, poll_asp_returns],
        gauges=GATEWAY_GAUGES,
    )
