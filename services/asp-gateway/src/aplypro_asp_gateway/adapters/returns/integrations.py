"""Integration answers `identifiants_generes_<upload>.csv` (asp-exchange.md §5.1), and the same columns for
address-correction answers (§5.5): one accepted record per line with the ids the ASP gave it."""

from __future__ import annotations

from aplypro_asp_gateway.adapters.returns import values
from aplypro_asp_gateway.adapters.returns.csv_text import INTEGRATIONS_HEADER, rows
from aplypro_asp_gateway.domain.asp_errors import line_fault
from aplypro_asp_gateway.domain.return_lines import AspIds, LineState, ReturnKind, ReturnLine


def read_integrations(text: str, kind: ReturnKind) -> list[ReturnLine]:
    accepted = LineState.ADDRESS_CORRECTED if kind is ReturnKind.CORRECTION_INTEGRATIONS else LineState.INTEGRATED
    lines: list[ReturnLine] = []
    for line_no, (record, ind, tiers, doss, numadm_doss, presta, numadm_presta, ind_presta) in rows(
            text, INTEGRATIONS_HEADER):
        record_id: int | None = None
        try:
            record_id = values.record_id(record)
            ids = AspIds(individual=values.asp_id(ind), dossier=values.asp_id(doss),
                         prestation=values.asp_id(presta), prestation_numadm=numadm_presta,
                         third_party_individual=values.asp_id(tiers),
                         prestation_individual=values.asp_id(ind_presta))
        except values.BadValue as bad:
            lines.append(ReturnLine(kind, line_no, LineState.INVALID, record_id, numadm_doss,
                                    reason=line_fault(bad.code)))
            continue
        # Without the three ids a later modification record cannot be built: never `integrated` half-way.
        complete = ids.individual and ids.dossier and ids.prestation
        lines.append(ReturnLine(
            kind, line_no, accepted if complete else LineState.INVALID, record_id, numadm_doss,
            reason=None if complete else line_fault("missing_asp_ids"), asp_ids=ids,
            prestation_ids=(ids.prestation,) if ids.prestation else ()))
    return lines
