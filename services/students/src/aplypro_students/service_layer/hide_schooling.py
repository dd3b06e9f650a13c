"""Hide a schooling of a registered student who never came, or reintegrate it (imports.md §5.9), from the web
application through the internal API: staff of the schooling's establishment, audited with their user id.

One open, non-hidden schooling per student (the partial unique index schoolings_one_open): reintegrating a
schooling while the student has another open one is refused (`schooling.other_open`), and so is
reintegrating one its producer retracted (`schooling.retracted`) or a merge folded into another schooling of the
same class (`schooling.merged_duplicate`, imports.md §5.8); a no-op change (hide
what is hidden) writes nothing and emits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import structlog
from aplypro_contracts import SchoolingHiddenChanged
from aplypro_servicekit.db import Connection
from aplypro_servicekit.outbox import event_row, write_outbox

from aplypro_students.service_layer.events import PRODUCER

log = structlog.get_logger(__name__)


class HideRefused(ValueError):
    """The change cannot be made; `code` is stable (the web page says what to do)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class HiddenState:
    schooling_id: UUID
    student_id: UUID
    hidden: bool
    version: int
    changed: bool
    hidden_at: datetime | None


async def set_hidden(conn: Connection, uai: str, schooling_id: UUID, hidden: bool, *, by: str,
                     topic: str) -> HiddenState:
    """Run inside the caller's transaction."""
    row = await conn.fetchrow(
        "SELECT s.student_id, s.hidden_at, s.hidden_version, s.retracted_at, s.folded_into FROM schoolings s "
        "JOIN classes c USING (class_id) WHERE s.schooling_id = $1 AND c.uai = $2 FOR UPDATE OF s", schooling_id, uai)
    if row is None:
        raise HideRefused("schooling.unknown", "no such schooling in this establishment")
    if not hidden and row["retracted_at"] is not None:  # its producer withdrew it (retract_schooling.py)
        raise HideRefused("schooling.retracted", "the schooling was retracted by its producer")
    if not hidden and row["folded_into"] is not None:  # a merge's duplicate of another schooling (§5.8)
        raise HideRefused("schooling.merged_duplicate", "the schooling duplicates another of the same student and "
                                                        "class since a merge")
    if (row["hidden_at"] is not None) == hidden:
        return HiddenState(schooling_id, row["student_id"], hidden, int(row["hidden_version"]), False,
                           row["hidden_at"])
    try:
        async with conn.transaction():  # a savepoint: the unique index may refuse a reintegration
            updated = await conn.fetchrow(
                "UPDATE schoolings SET hidden_at = CASE WHEN $2 THEN now() END, hidden_by = $3, "
                "hidden_version = hidden_version + 1 WHERE schooling_id = $1 RETURNING hidden_at, hidden_version",
                schooling_id, hidden, by)
    except asyncpg.UniqueViolationError:
        raise HideRefused("schooling.other_open", "the student has another open schooling") from None
    assert updated is not None  # the row is locked above
    version = int(updated["hidden_version"])
    event = SchoolingHiddenChanged(producer=PRODUCER, schooling_id=schooling_id, student_id=row["student_id"],
                                   hidden=hidden, version=version)
    await write_outbox(conn, [event_row(topic, row["student_id"], event)])
    log.info("schooling_hidden_changed", schooling_id=str(schooling_id), hidden=hidden, version=version)
    return HiddenState(schooling_id, row["student_id"], hidden, version, True, updated["hidden_at"])
