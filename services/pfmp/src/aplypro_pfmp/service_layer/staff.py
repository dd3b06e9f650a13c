"""The web's write of one PFMP: a staff member adds a PFMP to one schooling of their establishment.

The same rules as an import (record_in_schooling: dates, day count, one period one payment), plus the
audit row with the user's id, in the caller's transaction.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from aplypro_servicekit.db import Connection

from aplypro_pfmp.adapters import lifecycle_sql, web_sql
from aplypro_pfmp.domain.pfmp import PfmpError
from aplypro_pfmp.service_layer.lifecycle import require_user
from aplypro_pfmp.service_layer.use_cases import Outcome, Recorded, record_in_schooling


async def add_pfmp(conn: Connection, uai: str, schooling_id: UUID, start: date, end: date, day_count: int | None,
                   user_id: str, *, topic: str) -> Recorded:
    user_id = require_user(user_id)
    schooling = await web_sql.schooling_in(conn, uai, schooling_id)
    if schooling is None:  # another establishment's schooling: not found, as the page says
        raise PfmpError("unknown_schooling", "no schooling with this id in this establishment")
    recorded = await record_in_schooling(conn, schooling, start, end, day_count, topic=topic)
    if recorded.outcome is not Outcome.UNCHANGED:
        await lifecycle_sql.audit(conn, user_id, "record", recorded.pfmp)
    return recorded
