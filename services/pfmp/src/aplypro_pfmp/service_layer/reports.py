"""Set, change or remove the *report* of a schooling (domain.reports), with the confirmed director's user id
in the audit trail, and publish it as SchoolingExtended (keyed by student, through the outbox, in the
caller's transaction) for the calculator's `pfmp_outside_schooling_dates` gate.

The student's PFMP lock is taken first, as every PFMP writer does: a PFMP recorded or edited at the same
time either sees the new report or is seen by the `report_before_pfmp` guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import structlog
from aplypro_contracts import SchoolingExtended
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.adapters import lifecycle_sql, postgres
from aplypro_pfmp.adapters import school_years_sql as sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.domain.reports import ReportFacts, check_report
from aplypro_pfmp.service_layer.lifecycle import require_user
from aplypro_pfmp.service_layer.use_cases import PRODUCER

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SetReport:
    """Command: the report date of a schooling (None removes it), confirmed by the director `user_id`."""

    schooling_id: UUID
    extended_end_date: date | None
    user_id: str


@dataclass(frozen=True)
class ReportSet:
    schooling_id: UUID
    extended_end_date: date | None
    version: int
    changed: bool  # False: the same date was already set, nothing written


async def set_report(conn: Connection, command: SetReport, *, today: date, topic: str) -> ReportSet:
    user_id = require_user(command.user_id)
    row = await conn.fetchrow("SELECT * FROM schoolings WHERE schooling_id = $1", command.schooling_id)
    if row is None:
        raise PfmpError("unknown_schooling", f"no schooling {command.schooling_id} is known to the pfmp service")
    schooling = dict(row)
    await postgres.lock_student(conn, schooling["student_id"])
    held, version = await sql.report_of(conn, command.schooling_id)
    if held == command.extended_end_date and (held is not None or version > 0):
        return ReportSet(command.schooling_id, held, version, changed=False)
    facts = ReportFacts(
        start_date=schooling["start_date"], end_date=schooling["end_date"],
        has_decision=await lifecycle_sql.has_decision(conn, command.schooling_id),
        abrogated=await sql.is_abrogated(conn, command.schooling_id),
        current_year=await sql.current_year(conn, schooling.get("academy_code"), today),
        latest_pfmp_end=await sql.latest_pfmp_end(conn, command.schooling_id), report=held)
    check_report(facts, command.extended_end_date)
    version += 1
    await sql.save_report(conn, command.schooling_id, schooling["student_id"], command.extended_end_date, version)
    event = SchoolingExtended(producer=PRODUCER, schooling_id=command.schooling_id,
                              student_id=schooling["student_id"], extended_end_date=command.extended_end_date,
                              version=version, requested_by=user_id)
    await write_outbox(conn, [event_row(topic, schooling["student_id"], event)])  # keyed by student
    action = "remove_report" if command.extended_end_date is None else "set_report" if held is None else "change_report"
    await sql.audit_report(conn, user_id, action, command.schooling_id, command.extended_end_date)
    log.info("schooling_report_set", schooling_id=str(command.schooling_id), action=action, version=version)
    return ReportSet(command.schooling_id, command.extended_end_date, version, changed=True)
