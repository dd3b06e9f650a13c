"""An ASP agent's command that documents carries out (features.md §2, ASP row; documents.md §5.4): generate or
regenerate the état liquidatif of a dossier, checked against what pfmp knows, written to the outbox in the
caller's transaction (keyed by the student, as every PFMP event) and audited with the agent's user id.

Refused, with a stable code, without a DA, after a retrait, or when no PFMP of the dossier has a payment request
(there is nothing to print). Asking twice is harmless: documents queues one, and an état liquidatif whose content
has not changed keeps its version. Who may ask (an ASP agent, for a dossier their search found) is the caller's
check.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import structlog
from aplypro_contracts import LiquidationIssueRequested
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_pfmp.adapters import actions_sql, dossier_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.lifecycle import require_user
from aplypro_pfmp.service_layer.use_cases import PRODUCER

log = structlog.get_logger(__name__)
ACTION = "request_liquidation"  # its audit name (pfmp_actions.action)


@dataclass(frozen=True)
class RequestLiquidation:
    """Command: the état liquidatif of one schooling (a dossier), generated or regenerated."""

    schooling_id: UUID
    user_id: str


async def request_liquidation(conn: Connection, command: RequestLiquidation, *,
                              topic: str) -> LiquidationIssueRequested:
    user_id = require_user(command.user_id)
    student_id = await conn.fetchval("SELECT student_id FROM schoolings WHERE schooling_id = $1", command.schooling_id)
    if student_id is None:
        raise PfmpError("unknown_schooling", f"no schooling {command.schooling_id} is known to the pfmp service")
    kinds = await actions_sql.decision_kinds(conn, command.schooling_id)
    if "retrait" in kinds:  # no état liquidatif certifies a payment on a withdrawn DA (documents.md §5.3)
        raise PfmpError("decision_already_withdrawn", "the schooling's DA is withdrawn")
    if "attribution" not in kinds:
        raise PfmpError("missing_attributive_decision", "the schooling has no DA")
    if not await dossier_sql.has_payment_request(conn, command.schooling_id):
        raise PfmpError("no_payment_request", "no PFMP of the schooling has a payment request")
    event = LiquidationIssueRequested(producer=PRODUCER, schooling_id=command.schooling_id, student_id=student_id,
                                      requested_by=user_id)
    await write_outbox(conn, [event_row(topic, student_id, event)])
    await actions_sql.audit(conn, user_id, ACTION, schooling_id=command.schooling_id)
    log.info("liquidation_requested", schooling_id=str(command.schooling_id))
    return event
