"""Recovery-order returns `renvoi_ordrereversement_<CODE>_<YYYYMMDD>.xml` (asp-exchange.md §5.4):
`LISTEOR/ORDREREVERSEMENT`, `EMIS` → a recovery (paid, flagged), `INVALIDE` → unpaid with `CODEMOTIFOR`."""

from __future__ import annotations

from aplypro_asp_gateway.adapters.returns import values
from aplypro_asp_gateway.adapters.returns.xml_records import (
    XmlRecord,
    invalid_line,
    records,
    single_prestation,
)
from aplypro_asp_gateway.domain.asp_errors import classify_recovery_failure, line_fault
from aplypro_asp_gateway.domain.return_lines import AspIds, LineState, ReturnKind, ReturnLine

KIND = ReturnKind.RECOVERY_ORDERS


def _line(record: XmlRecord) -> ReturnLine:
    state = record.values.get("ETATPAIEMENT")
    numadm, ids = record.numadm, tuple(record.prestation_ids)
    try:
        prestation = single_prestation(record)
        claimed = values.cents(record.values.get("MTDEMANDEOR"))
        posted_on = values.asp_date(record.values.get("DATEOREFFECTIF"))
        if state == "EMIS" and claimed is None:
            raise values.BadValue("missing_amount")
    except values.BadValue as bad:
        return invalid_line(KIND, record, bad)
    # The sign of MTDEMANDEOR is unconfirmed (§5.4, §11): the amount claimed is shown as its absolute value.
    claimed = abs(claimed) if claimed is not None else None
    asp_ids = AspIds(prestation=prestation)
    if state == "EMIS":
        return ReturnLine(KIND, record.rank, LineState.RECOVERY, numadm=numadm, asp_ids=asp_ids,
                          prestation_ids=ids, claimed_cents=claimed, order_posted_on=posted_on)
    if state == "INVALIDE":
        code = record.values.get("CODEMOTIFOR")
        return ReturnLine(KIND, record.rank, LineState.UNPAID, numadm=numadm, asp_ids=asp_ids,
                          prestation_ids=ids, claimed_cents=claimed, order_posted_on=posted_on,
                          reason=classify_recovery_failure(code), asp_code=code,
                          asp_text=record.values.get("LIBELLEMOTIFOR"))
    return ReturnLine(KIND, record.rank, LineState.INVALID, numadm=numadm, asp_ids=asp_ids, prestation_ids=ids,
                      claimed_cents=claimed, order_posted_on=posted_on,
                      reason=line_fault("unknown_payment_state"))


def read_recovery_orders(data: bytes) -> list[ReturnLine]:
    return [_line(record) for record in records(data, "LISTEOR", "ORDREREVERSEMENT")]
