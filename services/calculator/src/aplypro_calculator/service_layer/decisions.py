"""Following the documents service's décisions d'attribution (attribution, abrogation, retrait), from their
issue: DocumentIssued (number and content fixed) opens the gate, so a payment never waits for the renderer.
DocumentReady of the version held is the same fact announced again; one whose DocumentIssued was never seen
(older than issue-then-render, or replayed) records the decision as before.

The DA state of each schooling is kept (adapters.postgres_decisions); a change re-evaluates the open requests
of every pool of the student, since a DA of one schooling can gate the PFMPs of another (reason
`needs_abrogated_attributive_decision`). So a request blocked for its DA is released without anyone asking.
Runs in the caller's transaction, inside the one subscription that reads every topic keyed by student: a
pool keeps one writer, so no evaluation can miss a DA committed beside it.
"""

from __future__ import annotations

from collections import Counter
from typing import cast
from uuid import UUID

import structlog
from aplypro_contracts import DocumentIssued, DocumentReady
from aplypro_servicekit.db import Connection

from aplypro_calculator.adapters import postgres, postgres_decisions
from aplypro_calculator.adapters.postgres import PoolKey
from aplypro_calculator.adapters.postgres_stale import count_stale
from aplypro_calculator.domain.decisions import KINDS, Decision, DecisionKind
from aplypro_calculator.service_layer.events import Cause

log = structlog.get_logger(__name__)


DecisionEvent = DocumentIssued | DocumentReady


async def apply_decisions(conn: Connection, events: list[DecisionEvent], causes: dict[PoolKey, Cause]) -> None:
    """Record the DA documents announced; add the pools whose open requests they may release or block.

    A document of the version held (its DocumentReady after its DocumentIssued) changes nothing, silently; an
    older one (a replay, a late duplicate) changes nothing and is counted as stale. Versions only go up and a DA never comes back from abrogation or retrait, so the
    state reached does not depend on the order the events arrive in. États liquidatifs are not gates.
    """
    wanted = [e for e in events if e.kind in KINDS]
    if not wanted:
        return
    held = await postgres_decisions.held_decisions(conn, sorted({e.schooling_id for e in wanted}))
    changed: dict[UUID, tuple[UUID, Decision]] = {}
    dropped: Counter[str] = Counter()
    last_of_student: dict[UUID, DecisionEvent] = {}
    for event in wanted:
        kind = cast(DecisionKind, event.kind)
        current = changed[event.schooling_id][1] if event.schooling_id in changed else held.get(
            event.schooling_id, Decision())
        if event.version <= current.version(kind):
            if event.version < current.version(kind):
                dropped[event.event_type] += 1
            continue
        changed[event.schooling_id] = (event.student_id, current.with_version(kind, event.version))
        last_of_student[event.student_id] = event
    await count_stale(conn, dropped)
    if not changed:
        return
    await postgres_decisions.store_decisions(conn, [(s, st, d) for s, (st, d) in changed.items()])
    withdrawn = [s for s, (_, d) in changed.items() if d.withdrawal and not held.get(s, Decision()).withdrawal]
    if withdrawn:
        # Requests handed over before the retrait are past the calculator's gate: operators must know.
        in_flight = await postgres_decisions.requests_in_flight(conn, withdrawn)
        log.info("attribution_decisions_withdrawn", schoolings=len(withdrawn), requests_in_flight=in_flight)
    for key in await postgres.pools_with_open_requests(conn, list(last_of_student)):
        causes.setdefault(key, Cause.of(last_of_student[key[0]]))
