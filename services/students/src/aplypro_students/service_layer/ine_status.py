"""Records what the student API answered for INEs: "not found" (a duplicate, usually deleted in an INE
reconciliation) or "found" again, and publishes StudentIneStatusChanged for the payment gate `ine_not_found`
(lifecycles.md §4 #2). The entry point of the future SYGNE/FREGATA refresh, and of staff until then.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from aplypro_contracts import StudentIneStatusChanged
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_students.adapters.postgres_ine import set_ine_status
from aplypro_students.service_layer.events import PRODUCER

log = structlog.get_logger(__name__)

IneStatus = Literal["found", "not_found"]
_STORED = {"found": "ok", "not_found": "not_found"}  # students.ine_status (0001) names "found" `ok`


@dataclass(frozen=True)
class IneSummary:
    changed: int
    unchanged: int
    unknown: int  # INEs of no student here: reported as a count, never echoed (personal data)

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "unchanged": self.unchanged, "unknown": self.unknown}


async def record_ine_status(conn: Connection, ines: Sequence[str], status: IneStatus, *, by: str,
                            topic: str) -> IneSummary:
    """In the caller's transaction: one event per student whose status changes; a repeat changes nothing."""
    wanted = sorted({i.strip().upper() for i in ines if i.strip()})
    changed, unchanged = await set_ine_status(conn, wanted, _STORED[status], by)
    correlation_id = uuid.uuid4()
    await write_outbox(conn, [
        event_row(topic, student_id, StudentIneStatusChanged(  # keyed by student_id: never the INE
            producer=PRODUCER, correlation_id=correlation_id, student_id=student_id, ine_status=status,
            version=version))
        for student_id, version in changed.values()])
    summary = IneSummary(len(changed), len(unchanged), len(wanted) - len(changed) - len(unchanged))
    log.info("ine_status_recorded", status=status, by=by, correlation_id=str(correlation_id), **summary.as_dict())
    return summary
