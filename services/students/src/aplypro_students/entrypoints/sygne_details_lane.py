"""The SYGNE detail lane as a background task of `aplypro-students run` (service_layer/sygne_details.py)."""

from __future__ import annotations

from datetime import date, datetime

import structlog
from aplypro_contracts.topics import STUDENTS_EVENTS
from aplypro_servicekit.runtime import ServiceRuntime
from aplypro_servicekit.schema_gauges import SchemaGauge
from pydantic import ValidationError

from aplypro_students.config import StudentsSettings
from aplypro_students.entrypoints.nightly import PARIS
from aplypro_students.service_layer.sygne_details import LanePolicy, run_lane

log = structlog.get_logger(__name__)


def lane_policy(settings: StudentsSettings) -> LanePolicy:
    return LanePolicy(batch=settings.sygne_details_batch, concurrency=settings.sygne_details_concurrency,
                      rate=settings.sygne_details_rate, max_attempts=settings.sygne_details_max_attempts,
                      backoff_base=settings.sygne_details_backoff)


def gauges(settings: StudentsSettings) -> list[SchemaGauge]:
    given_up = int(settings.sygne_details_max_attempts)
    return [
        SchemaGauge("aplypro_sygne_details_queued", "SYGNE details queued by import-all and not applied yet; "
                    "given_up: past their attempts, an operator's to look at.", ("state",),
                    f"SELECT CASE WHEN attempts >= {given_up} THEN 'given_up' ELSE 'waiting' END AS state, "
                    "count(*) AS value FROM sygne_detail_queue GROUP BY 1"),
        SchemaGauge("aplypro_sygne_details_oldest_seconds", "Age of the oldest SYGNE detail still queued.", (),
                    "SELECT coalesce(extract(epoch FROM now() - min(queued_at)), 0) AS value FROM sygne_detail_queue"),
    ]


def _today() -> date:
    return datetime.now(PARIS).date()


async def sygne_details_lane(runtime: ServiceRuntime) -> None:
    from aplypro_students.adapters.sygne.client import SygneClient
    from aplypro_students.adapters.sygne.settings import SygneSettings

    settings = runtime.settings
    if not isinstance(settings, StudentsSettings) or not settings.sygne_details_lane or runtime.pool is None:
        return
    try:
        sygne = SygneSettings()  # filled from the environment
    except ValidationError:
        log.info("sygne_details_lane_off", reason="APLYPRO_SYGNE_* settings absent")
        return
    # one try a call: the queue retries later (with its backoff) instead of holding its claimed rows
    async with SygneClient(sygne.model_copy(update={"max_attempts": 1})) as api:
        await run_lane(runtime.pool, api, lane_policy(settings), topic=settings.topic(STUDENTS_EVENTS), today=_today)
