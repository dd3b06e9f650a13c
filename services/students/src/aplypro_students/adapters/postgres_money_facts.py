"""SQL of the money facts read model: which schoolings have a decision issued or a payment requested."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


async def record_facts(conn: Connection, earliest: Mapping[UUID, tuple[datetime | None, datetime | None]]) -> None:
    """record_fact for many schoolings in one statement: per schooling, the earliest (decision issued, payment
    requested) of a batch, None where the batch has none (least() ignores a NULL: the held time stays)."""
    await conn.execute(
        "INSERT INTO schooling_money_facts (schooling_id, decision_issued_at, payment_requested_at) "
        "SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) "
        "ON CONFLICT (schooling_id) DO UPDATE SET "
        "decision_issued_at = least(schooling_money_facts.decision_issued_at, EXCLUDED.decision_issued_at), "
        "payment_requested_at = least(schooling_money_facts.payment_requested_at, EXCLUDED.payment_requested_at)",
        list(earliest), [d for d, _ in earliest.values()], [p for _, p in earliest.values()])


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


async def retracted_among(conn: Connection, schooling_ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch("SELECT schooling_id FROM schoolings WHERE schooling_id = ANY($1::uuid[]) "
                            "AND retracted_at IS NOT NULL", list(schooling_ids))
    return {r["schooling_id"] for r in rows}
