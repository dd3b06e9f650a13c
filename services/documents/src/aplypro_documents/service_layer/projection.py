"""Keeps documents' view of students, schoolings and barème, and queues the decisions they call for."""

from __future__ import annotations

from dataclasses import dataclass

from aplypro_contracts import SchoolingOpened, SchoolingPriced, StudentRegistered
from aplypro_servicekit.db import Connection

from aplypro_documents.adapters import postgres
from aplypro_documents.domain.numbering import administrative_number


@dataclass(frozen=True)
class Projection:
    async def on_student_registered(self, conn: Connection, event: StudentRegistered) -> None:
        await postgres.upsert_student(conn, event.student_id, event.identity.model_dump(mode="json"))
        await postgres.enqueue_attribution(conn, await postgres.schoolings_of_student(conn, event.student_id))

    async def on_schooling_opened(self, conn: Connection, event: SchoolingOpened) -> None:
        await postgres.upsert_schooling(conn, event.model_dump(mode="json"), administrative_number())
        await postgres.enqueue_attribution(conn, [event.schooling_id])

    async def on_schooling_priced(self, conn: Connection, event: SchoolingPriced) -> None:
        await postgres.set_pricing(conn, event.schooling_id, event.priced, event.daily_rate_cents,
                                   event.yearly_cap_cents)
        if event.priced:
            await postgres.enqueue_attribution(conn, [event.schooling_id])
