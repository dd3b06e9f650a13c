"""Following a request once it is handed to the gateway: sent, integrated, rejected, paid, unpaid.

`rejected` and `unpaid` take the PFMP out of the committed class, so its pool is recomputed; `paid` keeps
the frozen amount and records MTNET. A return that does not fit the current state is ignored and logged
(lifecycles.md §2): a replayed file changes nothing.
"""

from __future__ import annotations

from collections import Counter
from uuid import UUID

import structlog
from aplypro_contracts import PaymentRequestSent, PaymentRequestStateChanged
from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters import postgres_requests
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_requests import AspReturn
from aplypro_calculator.adapters.postgres_stale import count_stale, is_newer
from aplypro_calculator.domain.requests import ASP_TRANSITIONS, paid_mismatch
from aplypro_calculator.service_layer.events import Cause

log = structlog.get_logger(__name__)

AspEvent = PaymentRequestStateChanged | PaymentRequestSent


async def apply_asp_returns(conn: Connection, received: list[AspEvent], causes: dict[PoolKey, Cause]) -> None:
    """Apply the returns in order; add the pools to recompute to `causes`."""
    known = await postgres_requests.requests_for_returns(conn, list({e.payment_request_id for e in received}))
    changed: dict[UUID, AspReturn] = {}
    dropped: Counter[str] = Counter()
    not_followed: Counter[str] = Counter()
    for event in received:
        request = known.get(event.payment_request_id)
        new = event.state if isinstance(event, PaymentRequestStateChanged) else "sent"
        if request is None:
            log.warning("asp_return_unknown_request", payment_request_id=str(event.payment_request_id), state=new)
            continue
        if not is_newer(event.version, request["asp_version"]):
            dropped[event.event_type] += 1  # older than (or the same as) the gateway's last return applied
            continue
        current = request["state"]
        if new not in ASP_TRANSITIONS:
            # incomplete/ready are the gateway's own checks: the amount stays frozen on our side. One line a batch:
            # a file's build announces each of its (up to 7,000) requests `ready`.
            not_followed[new] += 1
            continue
        if current not in ASP_TRANSITIONS[new]:
            if current != new:
                log.warning("asp_return_ignored", payment_request_id=str(event.payment_request_id),
                            current=current, state=new)
            continue
        paid = event.paid_amount if isinstance(event, PaymentRequestStateChanged) else None
        reasons = event.reasons if isinstance(event, PaymentRequestStateChanged) else ()
        recovery = isinstance(event, PaymentRequestStateChanged) and event.recovery
        mismatch = new == "paid" and paid_mismatch(paid, request["amount_cents"], request["base_cents"])
        if mismatch:
            log.warning("paid_amount_mismatch", payment_request_id=str(event.payment_request_id),
                        sent_cents=request["amount_cents"], paid_amount=str(paid))
        changed[event.payment_request_id] = AspReturn(
            event.payment_request_id, new, tuple(reasons), paid, mismatch, recovery, event.version)
        # The ASP version moves on only with a return applied, as one event at a time records it: a return ignored
        # above leaves it, so a batch drops exactly what the per-event path drops.
        request["asp_version"] = event.version
        request["state"] = new
        if new in ("rejected", "unpaid"):  # no longer committed: its share may change before a retry
            causes.setdefault((request["student_id"], request["mef_code"], request["school_year"]), Cause.of(event))
    await postgres_requests.apply_returns(conn, list(changed.values()))
    if not_followed:
        log.info("asp_returns_not_followed", **not_followed)
    await count_stale(conn, dropped)
