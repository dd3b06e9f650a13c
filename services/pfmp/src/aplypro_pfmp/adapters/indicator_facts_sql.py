"""SQL of the facts the indicators need beyond PFMPs and requests (migration 0016): each schooling's barème
(SchoolingPriced), each student's INE status (StudentIneStatusChanged), and what the ASP answered for a paid
request (its net amount, or the amount a recovery order claims). Whether a student's data is ready is written
with the student (adapters.postgres.upsert_student). Each writer returns False when its event is
older than (or a replay of) what is held, for the caller to count as stale."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from aplypro_servicekit.db import Connection


async def schooling_priced(conn: Connection, schooling_id: UUID, daily_rate_cents: int | None,
                           yearly_cap_cents: int | None, at: datetime) -> bool:
    applied = await conn.fetchval(
        "INSERT INTO schooling_prices VALUES ($1, $2, $3, $4, $4) ON CONFLICT (schooling_id) DO UPDATE "
        "SET daily_rate_cents = EXCLUDED.daily_rate_cents, yearly_cap_cents = EXCLUDED.yearly_cap_cents, "
        "priced_at = EXCLUDED.priced_at, "
        # when the barème a DA prints last changed (migration 0018): the same one priced again keeps its time
        "price_changed_at = CASE WHEN (schooling_prices.daily_rate_cents, schooling_prices.yearly_cap_cents) "
        "  IS DISTINCT FROM (EXCLUDED.daily_rate_cents, EXCLUDED.yearly_cap_cents) "
        "  THEN EXCLUDED.priced_at ELSE schooling_prices.price_changed_at END "
        "WHERE schooling_prices.priced_at < EXCLUDED.priced_at RETURNING true",
        schooling_id, daily_rate_cents, yearly_cap_cents, at)
    return applied is not None


async def ine_status(conn: Connection, student_id: UUID, not_found: bool, version: int) -> bool:
    applied = await conn.fetchval(
        "INSERT INTO student_ine_status VALUES ($1, $2, $3) ON CONFLICT (student_id) DO UPDATE "
        "SET ine_not_found = EXCLUDED.ine_not_found, version = EXCLUDED.version "
        "WHERE student_ine_status.version < EXCLUDED.version RETURNING true", student_id, not_found, version)
    return applied is not None


class FractionalCents(ValueError):
    """An ASP amount with a fraction of a cent: refused rather than rounded away (money is integer cents)."""

    code = "fractional_cents"


def cents_of(euros: Decimal) -> int:
    """The ASP's amount in euros (MTNET, or MTDEMANDEOR whose sign is unconfirmed: its absolute value) as
    cents, exactly."""
    cents = abs(euros) * 100
    if cents != cents.to_integral_value():
        raise FractionalCents("an ASP amount has a fraction of a cent")
    return int(cents)


async def asp_paid(conn: Connection, request_id: UUID, paid_cents: int | None, recovery: bool) -> None:
    """The ASP's answer of the state just applied by lifecycle_sql (so its version rule holds): amounts of a
    request that is not paid are None."""
    await conn.execute("UPDATE payment_requests SET paid_cents = $2, recovery = $3 WHERE payment_request_id = $1",
                       request_id, paid_cents, recovery)


async def asp_paid_missing(conn: Connection, request_id: UUID, version: int, paid_cents: int | None,
                           recovery: bool) -> bool:
    """A replay of the gateway's state the request holds (same version), received before migration 0016 kept the
    ASP's amounts: they are filled, once. True when something was filled."""
    filled = await conn.fetchval(
        "UPDATE payment_requests SET paid_cents = $3, recovery = $4 WHERE payment_request_id = $1 "
        "AND asp_version = $2 AND paid_cents IS NULL AND $3::bigint IS NOT NULL RETURNING true",
        request_id, version, paid_cents, recovery)
    return filled is not None

