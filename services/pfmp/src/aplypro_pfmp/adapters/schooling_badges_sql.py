"""Which schoolings carry the badges of features.md §3 that the schooling tables alone do not say: hidden by
staff (*Masqué(e) manuellement de la classe*, hidden_schoolings), at the yearly cap (*Plafond atteint*: the
calculator's amounts of the schooling's live PFMPs reach the cap of its barème, SchoolingPriced), and the
academic side's DA badge (*Générée*, *Annulée*, *En cours de génération*, *Non générée*)."""

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


# The academic side's words for a schooling's DA (features.md §3). A withdrawn or abrogated DA is no longer in
# force: *Annulée*. "En cours de génération": a director asked for it (the issue or reissue of this schooling,
# or of its class or year after the schooling opened) and no DA has come back yet — unless the schooling has no
# barème, whose DA documents never prints: *Non générée*.
ACADEMIC_DA = {"cancelled": "Annulée", "issued": "Générée", "asked": "En cours de génération", "none": "Non générée"}


async def academic_decisions(conn: Connection, schooling_ids: Sequence[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch(
        "SELECT s.schooling_id, "
        "  EXISTS (SELECT 1 FROM decisions d WHERE d.schooling_id = s.schooling_id "
        "          AND d.kind IN ('retrait', 'abrogation')) AS cancelled, "
        "  EXISTS (SELECT 1 FROM decisions d WHERE d.schooling_id = s.schooling_id AND d.kind = 'attribution') "
        "    AS issued, "
        "  EXISTS (SELECT 1 FROM pfmp_actions a WHERE a.action IN ('issue_missing_decisions', 'reissue_decisions') "
        "          AND (a.schooling_id = s.schooling_id OR (a.schooling_id IS NULL AND a.uai = s.uai "
        "               AND a.school_year = s.school_year AND (a.class_label IS NULL OR a.class_label = s.class_label)"
        "               AND a.at >= s.start_date))) "
        # No barème for the schooling (the calculator's SchoolingPriced): documents never prints its DA.
        "  AND NOT EXISTS (SELECT 1 FROM schooling_prices sp WHERE sp.schooling_id = s.schooling_id "
        "                  AND sp.daily_rate_cents IS NULL) AS asked "
        "FROM schoolings s WHERE s.schooling_id = ANY($1)", list(schooling_ids))
    return {r["schooling_id"]: ACADEMIC_DA["cancelled" if r["cancelled"] else "issued" if r["issued"]
                                          else "asked" if r["asked"] else "none"] for r in rows}
