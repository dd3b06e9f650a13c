"""Composition root of the documents process: consumers, the renderer loop and its process pool."""

from __future__ import annotations

from aplypro_contracts import SCHOOLING_STATE_EVENTS, STUDENT_STATE_EVENTS
from aplypro_contracts.topics import (
    CALCULATOR_EVENTS,
    DOCUMENTS_EVENTS,
    PFMP_EVENTS,
    STUDENTS_EVENTS,
    STUDENTS_RIBS,
)
from aplypro_servicekit.consumer import EventHandler
from aplypro_servicekit.runtime import ServiceRuntime, ServiceSpec, Subscription

from aplypro_documents.config import DocumentsSettings
from aplypro_documents.entrypoints.gauges import documents_gauges
from aplypro_documents.service_layer import projection_batch
from aplypro_documents.service_layer.asp_commands import on_liquidation_requested
from aplypro_documents.service_layer.director_commands import DirectorCommands
from aplypro_documents.service_layer.projection import Projection


def build_spec(settings: DocumentsSettings) -> ServiceSpec:
    projection = Projection()
    commands = DirectorCommands()

    async def render_decisions(runtime: ServiceRuntime) -> None:
        # Imported here: the extra consumer processes build this spec too, and need no renderer (weasyprint).
        from aplypro_documents.adapters.storage import storage_from_settings
        from aplypro_documents.rendering._weasy import harfbuzz_subset_available
        from aplypro_documents.rendering.pool import worker_pool
        from aplypro_documents.service_layer.issue import DecisionIssuer, log
        from aplypro_documents.service_layer.lanes import run_all
        from aplypro_documents.service_layer.render import DocumentRenderer

        if not harfbuzz_subset_available():
            log.warning("harfbuzz_subset_missing", hint="apt-get install libharfbuzz-subset0 (6x faster)")
        assert runtime.pool is not None
        with worker_pool(settings.render_workers, nice=settings.render_nice) as executor:
            topic = settings.topic(DOCUMENTS_EVENTS)
            issuer = DecisionIssuer(pool=runtime.pool, topic=topic, batch_size=settings.render_batch_size,
                                    attempts=settings.render_attempts, programmes=settings.programmes)
            renderer = DocumentRenderer(pool=runtime.pool, storage=storage_from_settings(settings), executor=executor,
                                        topic=topic, batch_size=settings.render_batch_size,
                                        attempts=settings.render_attempts)
            # Issue lanes fix numbers and content (database work only); render lanes make the PDFs. One render
            # lane per worker keeps each worker rendering; one more reads and writes meanwhile.
            render_lanes = settings.render_lanes or settings.render_workers + 1
            await run_all([issuer.issue_batch] * settings.issue_lanes + [renderer.render_batch] * render_lanes,
                          settings.poll_interval_s)

    # Every event with a student's full identity, every one with a schooling's full state (a closing included).
    handlers: dict[str, EventHandler] = {**dict.fromkeys(STUDENT_STATE_EVENTS, projection.on_student_registered),
                                         **dict.fromkeys(SCHOOLING_STATE_EVENTS, projection.on_schooling_opened),
                                         "SchoolingPriced": projection.on_schooling_priced,
                                         # Removed or retracted: no first DA (its queued one is dropped).
                                         "SchoolingHiddenChanged": projection.on_schooling_hidden_changed,
                                         "RibRecorded": projection.on_rib_recorded,
                                         "RibArchived": projection.on_rib_archived,
                                         "PfmpRecorded": projection.on_pfmp_recorded,
                                         "PfmpRectified": projection.on_pfmp_recorded,
                                         "PfmpValidated": projection.on_pfmp_validated,
                                         "DecisionWithdrawalRequested": projection.on_withdrawal_requested,
                                         "DecisionIssueRequested": commands.on_issue_requested,
                                         "DecisionAbrogationRequested": commands.on_abrogation_requested,
                                         "LiquidationIssueRequested": on_liquidation_requested,
                                         "PaymentRequested": projection.on_payment_requested}
    return ServiceSpec(
        name="documents",
        schema=settings.db_schema("documents"),
        migration_packages=["aplypro_documents"],
        produces=[DOCUMENTS_EVENTS],
        # One consumer for the four topics: the queue, not the arrival order, decides when a document is
        # complete (a payment request may come before its PFMP's dates or the student's bank account).
        subscriptions=[Subscription(
            topics=[STUDENTS_EVENTS, STUDENTS_RIBS, PFMP_EVENTS, CALCULATOR_EVENTS], consumer_name="decisions",
            handlers=handlers, batch_handler=projection_batch.batch_handler(handlers, clock=projection.clock),
        )],
        background=[render_decisions],
        gauges=documents_gauges(settings.render_attempts),
    )
