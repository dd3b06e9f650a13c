"""SQL of the money facts read model: which schoolings have a decision issued or a payment requested."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from aplypro_servicekit.db import Connection

Fact = Literal["decision_issued_at", "payment_requested_at"]


@dataclass(frozen=True)
class MoneyFacts:
    decision_issued: bool
    payment_requested: bool


async def record_fact(conn: Connection, schooling_id: UUID, fact: Fact, at: datetime) -> None:
    """Keeps the earliest time seen: a redelivered or later event changes nothing that matters."""
    # `fact` is one of two column names (a Literal), never input
    await conn.execute(
        f"INSERT INTO schooling_money_facts (schooling_id, {fact}) VALUES ($1, $2) "
        f"ON CONFLICT (schooling_id) DO UPDATE SET {fact} = "
        f"least(schooling_money_facts.{fact}, EXCLUDED.{fact})", schooling_id, at)


async def facts_of(conn: Connection, schooling_id: UUID) -> MoneyFacts:
    """As far as the events read so far tell: a decision issued but not yet consumed is not seen (the
    consumer then warns, `money_fact_on_retracted_schooling`)."""
    row = await conn.fetchrow("SELECT decision_issued_at, payment_requested_at FROM schooling_money_facts "
                              "WHERE schooling_id = $1", schooling_id)
    if row is None:
        return MoneyFacts(False, False)
    return MoneyFacts(row["decision_issued_at"] is not None, row["payment_requested_at"] is not None)


async def is_retracted(conn: Connection, schooling_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT retracted_at IS NOT NULL FROM schoolings WHERE schooling_id = $1",
                                    schooling_id))
