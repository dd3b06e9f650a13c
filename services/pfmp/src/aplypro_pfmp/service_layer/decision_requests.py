"""The confirmed director's DA commands that documents carries out (documents.md §5.2, §6), checked against what
pfmp knows, written to the outbox in the caller's transaction (one event per schooling, keyed by its student as
every PFMP event) and audited with the user id:

* issue the missing DAs of a class or of the establishment's year, or of one schooling (hidden schoolings
  left out): DecisionIssueRequested `missing`;
* reissue every DA of the establishment's year (hidden ones included), or one schooling's: DecisionIssueRequested
  `reissue` (documents skips a reissue whose content is unchanged; an abrogated or withdrawn DA is final);
* abrogate one schooling's DA, only when it is due: DecisionAbrogationRequested.

Who may ask (the establishment's confirmed director) is the caller's check; these rules hold for anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal
from uuid import UUID

import structlog
from aplypro_contracts import DecisionAbrogationRequested, DecisionIssueRequested
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.adapters import actions_sql, decisions_sql
from aplypro_pfmp.domain.abrogation import abrogation_refusal
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.lifecycle import require_user
from aplypro_pfmp.service_layer.use_cases import PRODUCER

log = structlog.get_logger(__name__)
ACTIONS = {"missing": "issue_missing_decisions", "reissue": "reissue_decisions"}  # their audit names


@dataclass(frozen=True)
class IssueDecisions:
    """Command: the DAs of the establishment's year, of one class (`class_label`) or of one schooling."""

    uai: str
    school_year: int
    mode: Literal["missing", "reissue"]
    user_id: str
    class_label: str | None = None
    schooling_id: UUID | None = None


async def issue_decisions(conn: Connection, command: IssueDecisions, *, topic: str) -> int:
    """Ask documents for each DA in scope; returns how many. Refused when there is none to ask for."""
    user_id = require_user(command.user_id)
    where = decisions_sql.MISSING if command.mode == "missing" else decisions_sql.REISSUABLE
    scope = await decisions_sql.schoolings_in_scope(conn, where, command.uai, command.school_year,
                                                    command.class_label, command.schooling_id)
    if not scope:
        raise PfmpError(f"no_decision_to_{command.mode}", f"no DA to ask for ({command.mode})")
    await write_outbox(conn, [event_row(topic, student_id, DecisionIssueRequested(
        producer=PRODUCER, schooling_id=schooling_id, student_id=student_id, mode=command.mode,
        requested_by=user_id)) for schooling_id, student_id in scope])
    await decisions_sql.audit_scope(conn, user_id, ACTIONS[command.mode], uai=command.uai,
                                    school_year=command.school_year, class_label=command.class_label,
                                    schooling_id=command.schooling_id, item_count=len(scope))
    log.info("decisions_issue_requested", mode=command.mode, count=len(scope), school_year=command.school_year,
             one_schooling=command.schooling_id is not None)
    return len(scope)


@dataclass(frozen=True)
class AbrogateDecision:
    """Command: abrogate the DA of one schooling, superseded by a more recent one of the same year."""

    schooling_id: UUID
    user_id: str


async def abrogate_decision(conn: Connection, command: AbrogateDecision, *, today: date,
                            topic: str) -> DecisionAbrogationRequested:
    """Refused without a DA, after a retrait or an abrogation (both final), when not due, or when asked already."""
    user_id = require_user(command.user_id)
    kinds = await actions_sql.decision_kinds(conn, command.schooling_id)
    if "retrait" in kinds:
        raise PfmpError("decision_already_withdrawn", "the schooling's DA is withdrawn")
    if "abrogation" in kinds:
        raise PfmpError("decision_already_abrogated", "the schooling's DA is already abrogated")
    if "attribution" not in kinds:
        raise PfmpError("missing_attributive_decision", "the schooling has no DA to abrogate")
    student_id = await conn.fetchval("SELECT student_id FROM schoolings WHERE schooling_id = $1", command.schooling_id)
    if student_id is None:
        raise PfmpError("unknown_schooling", f"no schooling {command.schooling_id} is known to the pfmp service")
    spans = await decisions_sql.spans_of_student(conn, student_id)
    this = next(span for span in spans if span.schooling_id == command.schooling_id)
    refusal = abrogation_refusal(this, spans, today)
    if refusal is not None:
        raise PfmpError(refusal, "the schooling's DA is not abrogeable today")
    if await actions_sql.already_done(conn, "abrogate_decision", schooling_id=command.schooling_id):
        raise PfmpError("abrogation_already_requested", "the abrogation of this DA was already asked")
    event = DecisionAbrogationRequested(producer=PRODUCER, schooling_id=command.schooling_id, student_id=student_id,
                                        requested_by=user_id)
    await write_outbox(conn, [event_row(topic, student_id, event)])
    await actions_sql.audit(conn, user_id, "abrogate_decision", schooling_id=command.schooling_id)
    log.info("decision_abrogation_requested", schooling_id=str(command.schooling_id))
    return event
