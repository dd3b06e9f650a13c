"""Which of a student's schoolings carry the badges of features.md §3 that the schooling tables alone do not say:
hidden by staff (*Masqué(e) manuellement de la classe*, hidden_schoolings) and at the yearly cap (*Plafond
atteint*: the calculator's amounts of the schooling's live PFMPs reach the cap of its barème, SchoolingPriced)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from aplypro_servicekit.db import Connection


async def hidden(conn: Connection, schooling_ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch("SELECT schooling_id FROM hidden_schoolings WHERE schooling_id = ANY($1) AND hidden",
                            list(schooling_ids))
    return {r["schooling_id"] for r in rows}


async def capped(conn: Connection, schooling_ids: Sequence[UUID]) -> set[UUID]:
    rows = await conn.fetch(
        "SELECT sp.schooling_id FROM schooling_prices sp WHERE sp.schooling_id = ANY($1) AND sp.yearly_cap_cents > 0 "
        "AND sp.yearly_cap_cents <= (SELECT coalesce(sum(a.amount_cents), 0) FROM pfmps p "
        "  JOIN pfmp_amounts a USING (pfmp_id) WHERE p.schooling_id = sp.schooling_id AND NOT p.deleted)",
        list(schooling_ids))
    return {r["schooling_id"] for r in rows}
