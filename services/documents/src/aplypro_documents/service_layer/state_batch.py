"""projection.py's student, schooling and barème handlers for a stretch of a batch at once (projection_batch.py says
which stretch): what they would leave, in a few statements whatever the stretch's length.

The students and schoolings the stretch touches are read once, locked (with every schooling of its students: a
student's event queues their DAs, a schooling's event reviews their abrogations), and the decision state of those
schoolings (DA issued or queued, barème, abrogated, withdrawn, hidden) once. The events are then applied in order
in Python with the per-event rules: the version rule (and version 0 after version 0) with the same stale counts
and log lines; a new schooling's administrative number drawn as it is inserted; the last barème of a schooling
kept; a DA queued for each schooling a student's, a schooling's or a priced barème's event queues it for (where
none is issued and the schooling is not hidden, as enqueue_attribution's statement decides); and after each
schooling's event, the review of its student's abrogations, on the state as it stands at that event (the DAs
queued before it included). Each table is then written once.

The review runs at each schooling's event, in Python, rather than once per student at the end: what it reads may
change after a student's last schooling event in the stretch (a DA queued by a later StudentRegistered or
barème), and the per-event handlers do not review again then; nor would one review tell a drop followed by a
queueing. Reviewing once at the end left another queue in the equivalence test (test_projection_batch.py). Each
review reads nothing from the database: the stretch's state is held.

The review's outcome for each schooling is its last word (queued, or dropped), with one thing of the earlier ones
kept: a review that dropped an abrogation before another queued it again leaves a fresh row (what DELETE then
INSERT leaves: no detail, no attempts), where reviews that only queued it leave a row held as it was.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import structlog
from aplypro_contracts import (
    SCHOOLING_STATE_EVENTS,
    STUDENT_STATE_EVENTS,
    SchoolingChanged,
    SchoolingClosed,
    SchoolingOpened,
    SchoolingPriced,
    SchoolingReopened,
    StudentAddressChanged,
    StudentIdentityChanged,
    StudentRegistered,
)
from aplypro_servicekit.db import Connection

from aplypro_documents.adapters import postgres
from aplypro_documents.adapters import postgres_liquidation_batch as liquidation_sql
from aplypro_documents.adapters import postgres_state_batch as sql
from aplypro_documents.adapters.postgres_batch_rows import Row
from aplypro_documents.domain.decisions import SchoolingSpan, newer_schooling
from aplypro_documents.domain.numbering import administrative_number

log = structlog.get_logger(__name__)
STATES = frozenset({*STUDENT_STATE_EVENTS, *SCHOOLING_STATE_EVENTS})
FOLDED = STATES | {"SchoolingPriced"}
STUDENT_MODELS = (StudentRegistered, StudentIdentityChanged, StudentAddressChanged)
SCHOOLING_MODELS = (SchoolingOpened, SchoolingChanged, SchoolingClosed, SchoolingReopened)
Student = StudentRegistered | StudentIdentityChanged | StudentAddressChanged
Schooling = SchoolingOpened | SchoolingChanged | SchoolingClosed | SchoolingReopened


def newer(held: int | None, version: int) -> bool:
    """postgres.newer_than: nothing held, a newer version, or version 0 after version 0 (unversioned v1)."""
    return held is None or held < version or (version == 0 and held == 0)


@dataclass(slots=True)
class Decision:
    """postgres_decisions.DecisionState as the stretch changes it (only the queued DA and the barème can change)."""

    priced: bool | None
    issued: bool
    queued: bool
    abrogated: bool
    withdrawn: bool
    hidden: bool

    @property
    def abrogation_due(self) -> bool:
        """projection._review_abrogations' rule, given a newer schooling: a DA expected, neither abrogated nor
        withdrawn."""
        expected = self.issued or (self.queued and self.priced is not False)
        return expected and not self.abrogated and not self.withdrawn


class Stretch:
    """The rows a stretch touches, as its events change them in order; what is to be written."""

    def __init__(self, today: date, students: dict[UUID, int], schoolings: list[Row],
                 decisions: dict[UUID, Decision]) -> None:
        self.today = today
        self.student_versions = students
        self.students_held = set(students)
        self.spans = {r["schooling_id"]: r for r in schoolings}
        self.schoolings_held = set(self.spans)
        self.by_student: dict[UUID, dict[UUID, None]] = {}
        for row in schoolings:
            self.by_student.setdefault(row["student_id"], {})[row["schooling_id"]] = None
        self.decisions = decisions
        self.students: dict[UUID, Row] = {}
        self.schoolings: dict[UUID, Row] = {}
        self.pricing: dict[UUID, tuple[UUID, bool, int | None, int | None]] = {}
        self.attributions: dict[UUID, None] = {}
        self.abrogations: dict[UUID, str] = {}  # "queued", "dropped", or "requeued" (dropped, then queued)
        self.stale: Counter[str] = Counter()

    def apply(self, event: Any) -> None:
        if isinstance(event, SchoolingPriced):
            self._priced(event)
        elif isinstance(event, STUDENT_MODELS):
            self._student(event)
        else:
            self._schooling(event)

    def _stale(self, event_type: str, aggregate_id: UUID, version: int) -> None:
        """projection._stale's count (written once for the stretch) and its log line, without personal data."""
        self.stale[event_type] += 1
        log.info("stale_event_dropped", event_type=event_type, aggregate_id=str(aggregate_id), version=version)

    def _queue_attributions(self, schooling_ids: list[UUID]) -> None:
        """postgres.enqueue_attribution: the statement runs once for all, at the end; the decision state changes
        now, as that statement would change it."""
        for schooling_id in schooling_ids:
            self.attributions[schooling_id] = None
            state = self.decisions.get(schooling_id)
            if state is not None and not state.issued and not state.hidden:
                state.queued = True

    def _priced(self, event: SchoolingPriced) -> None:
        self.pricing[event.schooling_id] = (event.schooling_id, event.priced, event.daily_rate_cents,
                                            event.yearly_cap_cents)
        state = self.decisions.get(event.schooling_id)
        if state is not None:
            state.priced = event.priced
        if event.priced:
            self._queue_attributions([event.schooling_id])

    def _student(self, event: Student) -> None:
        if not newer(self.student_versions.get(event.student_id), event.version):
            self._stale(event.event_type, event.student_id, event.version)
            return
        self.student_versions[event.student_id] = event.version
        self.students[event.student_id] = {"student_id": event.student_id, "version": event.version,
                                           "identity": json.dumps(event.identity.model_dump(mode="json"))}
        self._queue_attributions(list(self.by_student.get(event.student_id, {})))

    def _schooling(self, event: Schooling) -> None:
        schooling_id = event.schooling_id
        held = self.spans.get(schooling_id)
        if not newer(None if held is None else held["version"], event.version):
            self._stale(event.event_type, schooling_id, event.version)
            return
        if held is not None:
            self.by_student[held["student_id"]].pop(schooling_id, None)
        self.by_student.setdefault(event.student_id, {})[schooling_id] = None
        self.spans[schooling_id] = {"schooling_id": schooling_id, "student_id": event.student_id,
                                    "school_year": event.school_year, "start_date": event.start_date,
                                    "end_date": event.end_date, "mef_code": event.mef.code,
                                    "uai": event.establishment.uai, "version": event.version}
        if schooling_id in self.schoolings_held:
            number = None  # the row held keeps its own (updated, not inserted)
        else:  # drawn as upsert_schooling draws it, for the insert: the first one drawn is the one kept
            number = self.schoolings.get(schooling_id, {}).get("administrative_number") or administrative_number()
        self.schoolings[schooling_id] = {
            **event.model_dump(include=set(sql.SCHOOLING_COLUMNS) - {"establishment", "mef"}),
            "establishment": json.dumps(event.establishment.model_dump(mode="json")),
            "mef": json.dumps(event.mef.model_dump(mode="json")), "administrative_number": number}
        self._queue_attributions([schooling_id])
        self._review(event.student_id)

    def _review(self, student_id: UUID) -> None:
        """projection._review_abrogations on the stretch's state at this event."""
        spans = [SchoolingSpan(r["schooling_id"], r["school_year"], r["start_date"], r["end_date"], r["mef_code"],
                               r["uai"])
                 for r in (self.spans[s] for s in self.by_student.get(student_id, {}))]
        spans.sort(key=lambda span: (span.start_date is None, span.start_date or date.min))  # ORDER BY start_date
        for span in spans:
            found = newer_schooling(span, spans, self.today)
            if found is not None and self.decisions[span.schooling_id].abrogation_due:
                self.abrogations[span.schooling_id] = (
                    "requeued" if self.abrogations.get(span.schooling_id) in ("dropped", "requeued") else "queued")
                log.info("abrogation_queued", schooling_id=str(span.schooling_id),
                         newer_schooling_id=str(found.schooling_id))
            else:
                self.abrogations[span.schooling_id] = "dropped"


async def fold(conn: Connection, events: list[Any], today: date) -> None:
    """The stretch's events (of FOLDED types, in batch order) applied as projection.py's handlers would apply them."""
    if not events:
        return
    students = [e for e in events if isinstance(e, STUDENT_MODELS)]
    schoolings = [e for e in events if isinstance(e, SCHOOLING_MODELS)]
    pricings = [e for e in events if isinstance(e, SchoolingPriced)]
    if len(students) + len(schoolings) + len(pricings) != len(events):  # a model the fold does not know
        raise TypeError("an event of a folded type is not of its current model")  # the batch replays per event
    versions: dict[UUID, int] = {}
    held: list[Row] = []
    decisions: dict[UUID, Decision] = {}
    if students:
        versions = await sql.student_versions_for_update(conn, list(dict.fromkeys(e.student_id for e in students)))
    if students or schoolings:
        held = await sql.schoolings_for_update(
            conn, list(dict.fromkeys(e.student_id for e in [*students, *schoolings])),
            list(dict.fromkeys(e.schooling_id for e in schoolings)))
    if schoolings:  # a review reads them: only a schooling's event reviews
        ids = list(dict.fromkeys([*(r["schooling_id"] for r in held), *(e.schooling_id for e in schoolings)]))
        decisions = {r["schooling_id"]: Decision(r["priced"], r["issued"], r["queued"], r["abrogated"],
                                                 r["withdrawn"], r["hidden"])
                     for r in await sql.decision_inputs(conn, ids)}
    stretch = Stretch(today, versions, held, decisions)
    for event in events:
        stretch.apply(event)
    await _write(conn, stretch)


async def _write(conn: Connection, stretch: Stretch) -> None:
    if stretch.students:
        await sql.write_students(conn, list(stretch.students.values()), stretch.students_held)
    if stretch.schoolings:
        await sql.write_schoolings(conn, list(stretch.schoolings.values()), stretch.schoolings_held)
    await liquidation_sql.set_pricings(conn, list(stretch.pricing.values()))
    if stretch.attributions:
        await postgres.enqueue_attribution(conn, list(stretch.attributions))
    outcome = stretch.abrogations
    await sql.review_abrogations(conn, [s for s, last in outcome.items() if last != "queued"],
                                 [s for s, last in outcome.items() if last != "dropped"])
    await liquidation_sql.count_stale(conn, stretch.stale)
