"""Reject answers `rejets_integ_idp_<upload>.csv` (asp-exchange.md §5.2), and the same columns for
address-correction rejects (§5.5): one refused record per line, its motif classified by §6.1."""

from __future__ import annotations

from aplypro_asp_gateway.adapters.returns import values
from aplypro_asp_gateway.adapters.returns.csv_text import REJECTS_HEADER, rows
from aplypro_asp_gateway.domain.asp_errors import classify_reject, line_fault
from aplypro_asp_gateway.domain.return_lines import AspIds, LineState, ReturnKind, ReturnLine

_MOTIF = 3  # the only free text: a stray `;` in it is joined back instead of refusing the file


def read_rejects(text: str, kind: ReturnKind) -> list[ReturnLine]:
    refused = LineState.ADDRESS_REJECTED if kind is ReturnKind.CORRECTION_REJECTS else LineState.REJECTED
    lines: list[ReturnLine] = []
    for line_no, (record, entity, numadm, motif, duplicate) in rows(text, REJECTS_HEADER, free_text=_MOTIF):
        record_id: int | None = None
        try:
            record_id = values.record_id(record)
            ids = AspIds(duplicate_individual=values.asp_id(duplicate)) if duplicate else None
        except values.BadValue as bad:
            lines.append(ReturnLine(kind, line_no, LineState.INVALID, record_id, numadm, reason=line_fault(bad.code),
                                    entity_type=entity, asp_text=motif))
            continue
        lines.append(ReturnLine(kind, line_no, refused, record_id, numadm, reason=classify_reject(motif),
                                asp_ids=ids, entity_type=entity, asp_text=motif))
    return lines
