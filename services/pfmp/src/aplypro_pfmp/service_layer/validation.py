"""Validation by the confirmed director (lifecycles.md §1): a completed PFMP that has ended, whose student
has a RIB for the PFMP's establishment and whose schooling has an issued DA.

One PFMP: a failed guard is refused with its reason. A class's selection: all or nothing, with the reason
of each refused PFMP. The bulk list of an establishment (`validate --uai`) takes the PFMPs whose guards
pass and reports the others, as the schools' list does ("the bulk list = completed PFMPs whose guard
passes"). The RIB guard reads the students' bank-data-free RibOnFile fact (pfmp never reads the restricted
RIB topic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from aplypro_contracts import PfmpValidated
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.adapters import lifecycle_sql as sql
from aplypro_pfmp.adapters import postgres
from aplypro_pfmp.domain.pfmp import Pfmp, PfmpError
from aplypro_pfmp.service_layer.lifecycle import require_user
from aplypro_pfmp.service_layer.use_cases import PRODUCER, to_state


@dataclass(frozen=True)
class Refusal:
    pfmp_id: UUID
    code: str
    message: str  # no personal data: it reaches a terminal


@dataclass
class ValidationReport:
    validated: list[Pfmp] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        skipped: dict[str, int] = {}
        for refusal in self.refused:
            skipped[refusal.code] = skipped.get(refusal.code, 0) + 1
        return {"validated": len(self.validated), "skipped": skipped}


def _check(pfmp: Pfmp, today: date, *, rib_missing: bool, decision_kinds: set[str]) -> Pfmp:
    """The validated PFMP, or PfmpError with the reason; the guards in their order, on facts read before."""
    if pfmp.status.value in ("validated", "rectified"):
        raise PfmpError("already_validated", "the PFMP is already validated")
    validated = pfmp.validate(today)  # completed and ended
    if rib_missing:
        raise PfmpError("missing_rib", "the student has no RIB for this PFMP's establishment")
    if not sql.decision_covers(decision_kinds):
        raise PfmpError("missing_attributive_decision", "the schooling has no issued décision d'attribution")
    return validated


async def _guard(conn: Connection, pfmp: Pfmp, uai: str, today: date, *, require_rib: bool) -> Pfmp:
    """The validated PFMP, or PfmpError with the reason."""
    rib_missing = require_rib and not await sql.has_rib(conn, pfmp.student_id, uai)
    kinds = (await sql.decision_kinds(conn, [pfmp.schooling_id])).get(pfmp.schooling_id, set())
    return _check(pfmp, today, rib_missing=rib_missing, decision_kinds=kinds)


async def _write(conn: Connection, validated: Sequence[Pfmp], user_id: str, topic: str) -> None:
    await postgres.mark_validated(conn, [p.pfmp_id for p in validated])
    await write_outbox(conn, [event_row(topic, p.student_id, PfmpValidated(producer=PRODUCER, pfmp=to_state(p)))
                              for p in validated])
    await sql.audit_many(conn, user_id, "validate", validated)


async def validate_pfmps(conn: Connection, pfmp_ids: Sequence[UUID], user_id: str, *, today: date, topic: str,
                         require_rib: bool) -> ValidationReport:
    """One PFMP or a class's selection: every one passes its guards, or none is validated."""
    user_id = require_user(user_id)
    report = ValidationReport()
    for pfmp_id in pfmp_ids:
        row = await conn.fetchrow(
            "SELECT p.pfmp_id, s.uai FROM pfmps p JOIN schoolings s USING (schooling_id) "
            "WHERE p.pfmp_id = $1 AND NOT p.deleted", pfmp_id)
        if row is None:
            report.refused.append(Refusal(pfmp_id, "unknown_pfmp", "no live PFMP with this id"))
            continue
        found = await sql.pfmp_for_update(conn, pfmp_id)
        if found is None:
            report.refused.append(Refusal(pfmp_id, "unknown_pfmp", "no live PFMP with this id"))
            continue
        pfmp = found[0]
        try:
            report.validated.append(await _guard(conn, pfmp, row["uai"], today, require_rib=require_rib))
        except PfmpError as exc:
            report.refused.append(Refusal(pfmp_id, exc.code, str(exc)))
    if report.refused:
        report.validated.clear()  # all or nothing
        return report
    await _write(conn, report.validated, user_id, topic)
    return report


async def validate_establishment(conn: Connection, *, uai: str | None, user_id: str, today: date, topic: str,
                                 require_rib: bool) -> ValidationReport:
    """Every completed, ended PFMP (of one establishment) whose guards pass; the others are reported."""
    user_id = require_user(user_id)
    report = ValidationReport()
    # The PFMPs and their guards' facts in one read (a national list is 10⁶ PFMPs).
    for candidate in await sql.validation_candidates(conn, uai, today):
        try:
            report.validated.append(_check(candidate.pfmp, today, rib_missing=require_rib and not candidate.has_rib,
                                           decision_kinds=candidate.decision_kinds))
        except PfmpError as exc:
            report.refused.append(Refusal(candidate.pfmp.pfmp_id, exc.code, str(exc)))
    await _write(conn, report.validated, user_id, topic)
    return report
