"""Following the schoolings the students service hides (SchoolingHiddenChanged, imports.md §5.9 and §3.4).

A hidden schooling is not paid (lifecycles.md §3 "remove"): staff removed a learner who never came, or the
ministry that reported it retracted it. Its PFMPs then hold nothing of the cap, no request is created for
them, and an open request is blocked with `hidden_schooling`, so nothing is paid silently and nothing is left
unpaid without its reason. Staff reintegrating the schooling releases them. A request already handed over
(`ready`) is past this gate: the asp-gateway holds it back from the payment file. Runs in the caller's
transaction, inside the one subscription keyed by student, like a DA event (service_layer.decisions).
"""

from __future__ import annotations

import structlog
from aplypro_contracts import SchoolingHiddenChanged
from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters import postgres_hidden
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_stale import count_stale
from aplypro_calculator.service_layer.events import Cause
from aplypro_calculator.service_layer.newest import newest_per_schooling

log = structlog.get_logger(__name__)


async def apply_hidden(conn: Connection, events: list[SchoolingHiddenChanged], causes: dict[PoolKey, Cause]) -> None:
    """Store the newest hiding of each schooling (an older or replayed one is counted as stale); add its pool."""
    held = await postgres_hidden.held_versions(conn, sorted({e.schooling_id for e in events}))
    newest, dropped = newest_per_schooling(events, held)
    await count_stale(conn, dropped)
    if not newest:
        return
    await postgres_hidden.store_hidden(conn, list(newest.values()))
    hidden = [s for s, e in newest.items() if e.hidden]
    if hidden:  # operators must know a request slipped past the gate (the gateway shows why it holds it)
        log.info("schoolings_hidden", schoolings=len(hidden),
                 requests_handed_over=await postgres_hidden.requests_handed_over(conn, hidden))
    last_of_student = {e.student_id: e for e in newest.values()}
    for key in await postgres_hidden.pools_of(conn, list(newest)):
        causes.setdefault(key, Cause.of(last_of_student[key[0]]))
