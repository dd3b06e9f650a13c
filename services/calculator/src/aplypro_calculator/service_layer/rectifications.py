"""Rectifying a paid PFMP ("gérer un indu", calculation.md §5): the new total against the last paid one.

A refused rectification changes nothing: the PFMP keeps its facts and its paid amount (never changed
silently). Otherwise the new facts are recorded, the PFMP moves to class 2 and a request carrying the new
total (never a delta) is created and evaluated at once by the pool recomputation: rectifications have no
cool-down (lifecycles.md §5).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from uuid import UUID

from aplypro_contracts import PfmpRectified, RectificationComputed
from aplypro_contracts.ids import new_uuid
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import OutboxRow, event_row

from aplypro_calculator.adapters import postgres, postgres_requests
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_requests import NewRequest
from aplypro_calculator.adapters.postgres_stale import count_stale, is_newer
from aplypro_calculator.domain.pool import allocate
from aplypro_calculator.domain.rectification import rectify, validate_day_count
from aplypro_calculator.domain.requests import ONGOING, OPEN
from aplypro_calculator.service_layer.events import PRODUCER, Cause
from aplypro_calculator.service_layer.pools import pool_key


class RectificationNotAllowed(ValueError):
    """A rectification the calculator cannot apply; `code` is the dead-letter reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def rectify_pfmp(conn: Connection, topic: str, event: PfmpRectified, causes: dict[PoolKey, Cause], *,
                       negative_enabled: bool) -> list[OutboxRow]:
    """Compute base, new and the outcome; on success record the facts and add the pool to `causes`. A
    rectification not newer than the PFMP held is stale: dropped and counted, nothing computed."""
    held = (await postgres.stored_pfmps(conn, [event.pfmp.pfmp_id])).get(event.pfmp.pfmp_id)
    if held is not None and not is_newer(event.pfmp.version, held):
        await count_stale(conn, Counter({event.event_type: 1}))
        return []
    computed = await apply_rectification(conn, event, causes, negative_enabled=negative_enabled)
    return [event_row(topic, event.pfmp.student_id, computed)]


async def apply_rectification(conn: Connection, event: PfmpRectified, causes: dict[PoolKey, Cause], *,
                              negative_enabled: bool) -> RectificationComputed:
    """rectify_pfmp's work, returning its outcome as the event to publish (the over-cap repair reads it)."""
    pfmp = event.pfmp
    # 0 allowed (full cancellation), never more than the calendar days (D11); else dead-lettered.
    day_count = validate_day_count(pfmp.day_count, pfmp.start_date, pfmp.end_date, rectification=True)
    schooling = (await postgres.get_schoolings(conn, [pfmp.schooling_id])).get(pfmp.schooling_id)
    if schooling is None:
        raise RectificationNotAllowed("unknown_schooling", f"schooling {pfmp.schooling_id} is unknown")
    key = pool_key(schooling)
    rows = await postgres.pool_rows(conn, [key])
    current = next((r for r in rows if r["pfmp_id"] == pfmp.pfmp_id), None)
    if current is None or current["paid_cents"] is None:
        raise RectificationNotAllowed("not_paid", f"PFMP {pfmp.pfmp_id} has no paid request to correct")
    if current["request_state"] in ONGOING:
        raise RectificationNotAllowed("request_ongoing", f"PFMP {pfmp.pfmp_id} has a request with ASP")
    exclusions = await postgres_requests.load_exclusions(conn)
    if schooling["daily_rate_cents"] is None or exclusions.excluded(
            schooling["uai"], schooling["mef_code"], schooling["school_year"]):
        raise RectificationNotAllowed("pfmp_not_priced", f"PFMP {pfmp.pfmp_id} is unpriced or excluded")

    # `new` = the pool amount with the new facts, the PFMP in class 2 (paid before, not committed now).
    others = [postgres.to_pool_pfmp(r, excluded=exclusions.excluded(r["uai"], r["mef_code"], r["school_year"]))
              for r in rows if r["pfmp_id"] != pfmp.pfmp_id]
    mine = replace(postgres.to_pool_pfmp(current, excluded=False), start_date=pfmp.start_date,
                   end_date=pfmp.end_date, day_count=day_count, committed_amount_cents=None, ever_paid=True)
    new = allocate(schooling["daily_rate_cents"], schooling["yearly_cap_cents"], [*others, mine]).get(
        mine.pfmp_id).amount_cents or 0
    base: int = current["paid_cents"]
    outcome = rectify(base, new, negative_enabled=negative_enabled, initiated_by=event.initiated_by)

    request_id: UUID | None = None
    if outcome.kind != "refused":
        # Unguarded: rectify_pfmp checked the version; an operator repair keeps the one it read.
        await postgres.upsert_pfmps(conn, [{**pfmp.model_dump(), "status": "rectified"}], only_newer=False)
        if current["request_state"] in OPEN:  # a rectification not yet committed, corrected again
            request_id = current["payment_request_id"]
        else:  # the latest is paid, rejected or unpaid: a new request, evaluated by the recomputation
            request_id = new_uuid()
            await postgres_requests.insert_requests(conn, [NewRequest(
                request_id, pfmp.pfmp_id, "pending", new, (), kind="rectification", base_cents=base,
                cause_event_id=event.event_id, correlation_id=event.correlation_id)])  # due at once (§5)
        causes[key] = Cause.of(event)
    return RectificationComputed(
        producer=PRODUCER, correlation_id=event.correlation_id, causation_id=event.event_id,
        pfmp_id=pfmp.pfmp_id, student_id=pfmp.student_id, base_cents=base, new_cents=new,
        difference_cents=outcome.difference_cents, outcome=outcome.kind, refusal_code=outcome.code,
        parked=outcome.parked, payment_request_id=request_id)
