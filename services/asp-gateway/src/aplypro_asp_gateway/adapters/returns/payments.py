"""Payment returns `renvoi_paiement_<CODE>_<YYYYMMDD>.xml` (asp-exchange.md §5.3): `LISTEPAIEMENT/PAIEMENT`,
`PAYE` → paid with the net amount, `INVALIDE` → unpaid with the §6.2 reason, anything else → an invalid line."""

from __future__ import annotations

from dataclasses import replace

from aplypro_asp_gateway.adapters.returns import values
from aplypro_asp_gateway.adapters.returns.xml_records import (
    XmlRecord,
    invalid_line,
    records,
    single_prestation,
)
from aplypro_asp_gateway.domain.asp_errors import classify_payment_failure, line_fault
from aplypro_asp_gateway.domain.return_lines import AspIds, LineState, ReturnKind, ReturnLine

KIND = ReturnKind.PAYMENTS


def _iban(record: XmlRecord) -> str | None:
    """§5.3: the account paid is CODEISOPAYS + CLECONTROL + ZONEBBAN."""
    get = record.values.get
    country, key, bban = get("CODEISOPAYS"), get("CLECONTROL"), get("ZONEBBAN")
    return country + key + bban if country and key and bban else None


def _line(record: XmlRecord) -> ReturnLine:
    state = record.values.get("ETATPAIEMENT")
    numadm, ids = record.numadm, tuple(record.prestation_ids)
    try:
        prestation = single_prestation(record)
        net = values.cents(record.values.get("MTNET"))
        paid_on = values.asp_date(record.values.get("DATEPAIEMENT"))
        if state == "PAYE" and net is None:
            raise values.BadValue("missing_amount")
    except values.BadValue as bad:
        return invalid_line(KIND, record, bad)
    paid = ReturnLine(KIND, record.rank, LineState.PAID, numadm=numadm, asp_ids=AspIds(prestation=prestation),
                      prestation_ids=ids, net_cents=net, paid_on=paid_on, iban=_iban(record))
    if state == "PAYE":
        return paid
    if state == "INVALIDE":
        code = record.values.get("CODEMOTIFINVAL")
        return replace(paid, state=LineState.UNPAID, reason=classify_payment_failure(code), asp_code=code,
                       asp_text=record.values.get("LIBELLEMOTIFINVAL"))
    return replace(paid, state=LineState.INVALID, reason=line_fault("unknown_payment_state"))


def read_payments(data: bytes) -> list[ReturnLine]:
    return [_line(record) for record in records(data, "LISTEPAIEMENT", "PAIEMENT")]
