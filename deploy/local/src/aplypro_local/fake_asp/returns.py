"""The return files the fake writes: integrations and rejects CSV (asp-exchange.md §5.1, §5.2).

Windows-1252 (the ASP's "ANSI": for the accented letters of the reasons it is byte for byte ISO-8859-1),
`;` separator, LF, exact headers, no quoting; an empty last field leaves a trailing `;`. And the payments
XML return (§5.3): one `PAIEMENT` per integrated record, `PAYE` with its MTNET or `INVALIDE` with a §6.2 code.
And the recovery-order XML return (§5.4): one `ORDREREVERSEMENT` per modification record that lowered a
PFMP's total, `EMIS` with the amount claimed or `INVALIDE` with a `CODEMOTIFOR`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from xml.sax.saxutils import escape

from aplypro_local.fake_asp.options import UNKNOWN_PRESTATION_ID, AnswerOptions, PaymentOptions

ENCODING = "cp1252"
INTEGRATIONS_HEADER = ("Numero enregistrement;idIndDoss;idIndTiers;idDoss;numAdmDoss;idPretaDoss;"
                       "numAdmPrestaDoss;idIndPrestaDoss")
REJECTS_HEADER = "Numéro d'enregistrement;Type d'entité;Numadm;Motif rejet;idIndDoublon"


@dataclass(frozen=True)
class Integrated:
    record_id: int
    individual_id: str
    dossier_id: str
    dossier_number: str
    prestation_id: str
    prestation_number: str
    amount_euros: int | None  # MTTOTALFINANCEMENT: what the payment return pays
    iban: str = ""  # the account the payment return says was paid
    modification: bool = False  # the record carried the prestation's id: a new total for a PFMP paid before


@dataclass(frozen=True)
class Rejected:
    record_id: int
    reason: str
    numadm: str = ""


def base_name(upload_name: str) -> str:
    return upload_name.removesuffix(".xml")


def integrations_name(upload_name: str) -> str:
    return f"identifiants_generes_{base_name(upload_name)}.csv"


def rejects_name(upload_name: str) -> str:
    return f"rejets_integ_idp_{base_name(upload_name)}.csv"


def _csv(header: str, rows: Sequence[Sequence[str]], options: AnswerOptions | None) -> bytes:
    options = options or AnswerOptions()
    lines = [";".join(r) for r in rows]
    if options.duplicate_lines:
        lines = [copy for line in lines for copy in (line, line)]
    return "".join(f"{line}{options.line_ending}" for line in [header, *lines]).encode(
        ENCODING if options.encoding == "cp1252" else "utf-8")


def integrations_csv(lines: Sequence[Integrated], options: AnswerOptions | None = None) -> bytes:
    # idIndTiers unknown (§11.5): empty; idIndPrestaDoss: the individual, as in the ASP's mocks.
    return _csv(INTEGRATIONS_HEADER, [
        (str(i.record_id), i.individual_id, "", i.dossier_id, i.dossier_number, i.prestation_id,
         i.prestation_number, i.individual_id) for i in lines], options)


def rejects_csv(lines: Sequence[Rejected], options: AnswerOptions | None = None) -> bytes:
    return _csv(REJECTS_HEADER, [(str(r.record_id), "", r.numadm, " ".join(r.reason.split()), "") for r in lines],
                options)


PAYMENTS_NAMESPACE = "http://www.cnasea.fr/fichier"


@dataclass(frozen=True)
class Payment:
    line: Integrated
    paid: bool
    failure_code: str = ""  # §6.2 CODEMOTIFINVAL of an INVALIDE line
    failure_text: str = ""
    net_euros: int | None = None  # MTNET; None: the record's total (a first payment)


def payments_name(code: str, on: date) -> str:
    return f"renvoi_paiement_{code}_{on:%Y%m%d}.xml"


def _payment(payment: Payment, on: date) -> str:
    line = payment.line
    presta = (f"<LISTEPRESTADOSS><PRESTADOSS><IDPRESTADOSS>{escape(line.prestation_id)}</IDPRESTADOSS>"
              "</PRESTADOSS></LISTEPRESTADOSS>")
    if not payment.paid:
        return (f"<PAIEMENT><ETATPAIEMENT>INVALIDE</ETATPAIEMENT>{presta}<CODEMOTIFINVAL>"
                f"{escape(payment.failure_code)}</CODEMOTIFINVAL><LIBELLEMOTIFINVAL>{escape(payment.failure_text)}"
                "</LIBELLEMOTIFINVAL></PAIEMENT>")
    iban = line.iban.replace(" ", "")
    net = payment.net_euros if payment.net_euros is not None else line.amount_euros or 0
    account = (f"<COORDPAIE><CODEISOPAYS>{escape(iban[:2])}</CODEISOPAYS><CLECONTROL>{escape(iban[2:4])}"
               f"</CLECONTROL><ZONEBBAN>{escape(iban[4:])}</ZONEBBAN></COORDPAIE>") if iban else ""
    return (f"<PAIEMENT><ETATPAIEMENT>PAYE</ETATPAIEMENT>{presta}<MTNET>{net}.00</MTNET>"
            f"<DATEPAIEMENT>{on:%d/%m/%Y}</DATEPAIEMENT>{account}</PAIEMENT>")


def _faulty(part: str, options: PaymentOptions) -> str:
    """The first PAIEMENT (or ORDREREVERSEMENT) of a file, with the options' faults (options.py)."""
    if options.unknown_state:
        for state in (">PAYE<", ">EMIS<", ">INVALIDE<"):
            part = part.replace(state, ">EN_ATTENTE<", 1)
    if options.two_prestations:
        part = part.replace("</PRESTADOSS></LISTEPRESTADOSS>", f"</PRESTADOSS><PRESTADOSS><IDPRESTADOSS>"
                            f"{UNKNOWN_PRESTATION_ID}</IDPRESTADOSS></PRESTADOSS></LISTEPRESTADOSS>", 1)
    return part + part if options.repeat_record else part


def payments_xml(payments: Sequence[Payment], on: date, options: PaymentOptions | None = None) -> bytes:
    options = options or PaymentOptions()
    parts = [_payment(p, on) for p in payments]
    if parts:
        parts[0] = _faulty(parts[0], options)
    if options.unknown_prestation and payments:
        stray = replace(payments[0].line, prestation_id=UNKNOWN_PRESTATION_ID)
        parts.append(_payment(Payment(stray, paid=True), on))
    xmlns = f' xmlns="{PAYMENTS_NAMESPACE}"' if options.namespace else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<LISTEPAIEMENT{xmlns}>{"".join(parts)}'
            "</LISTEPAIEMENT>\n").encode()


@dataclass(frozen=True)
class RecoveryOrder:
    line: Integrated
    claimed_euros: int  # what the ASP claims back (positive; written with the behaviour's sign)
    issued: bool  # EMIS; else INVALIDE with a CODEMOTIFOR
    sign: str = "-"
    failure_code: str = "C1"  # "RefMotifOR": only C1 (death) is known (§5.4)
    failure_text: str = "Deces"


def recovery_orders_name(code: str, on: date) -> str:
    return f"renvoi_ordrereversement_{code}_{on:%Y%m%d}.xml"


def _recovery(order: RecoveryOrder, on: date) -> str:
    presta = (f"<LISTEPRESTADOSS><PRESTADOSS><IDPRESTADOSS>{escape(order.line.prestation_id)}</IDPRESTADOSS>"
              "</PRESTADOSS></LISTEPRESTADOSS>")
    amount = f"<MTDEMANDEOR>{'-' if order.sign == '-' else ''}{order.claimed_euros}.00</MTDEMANDEOR>"
    if not order.issued:
        return (f"<ORDREREVERSEMENT><ETATPAIEMENT>INVALIDE</ETATPAIEMENT>{presta}{amount}<CODEMOTIFOR>"
                f"{escape(order.failure_code)}</CODEMOTIFOR><LIBELLEMOTIFOR>{escape(order.failure_text)}"
                "</LIBELLEMOTIFOR></ORDREREVERSEMENT>")
    return (f"<ORDREREVERSEMENT><ETATPAIEMENT>EMIS</ETATPAIEMENT>{presta}{amount}"
            f"<DATEOREFFECTIF>{on:%d/%m/%Y}</DATEOREFFECTIF></ORDREREVERSEMENT>")


def recovery_orders_xml(orders: Sequence[RecoveryOrder], on: date, options: PaymentOptions | None = None) -> bytes:
    """The recovery-order return (§5.4), with the same faults as a payments return (options.PaymentOptions)."""
    options = options or PaymentOptions()
    parts = [_recovery(o, on) for o in orders]
    if parts:
        parts[0] = _faulty(parts[0], options)
    if options.unknown_prestation and orders:
        parts.append(_recovery(replace(orders[0], line=replace(orders[0].line, prestation_id=UNKNOWN_PRESTATION_ID),
                                       issued=True), on))
    xmlns = f' xmlns="{PAYMENTS_NAMESPACE}"' if options.namespace else ""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<LISTEOR{xmlns}>{"".join(parts)}</LISTEOR>\n'.encode()


def truncated(content: bytes) -> bytes:
    """The file cut in the middle of a line, as a transfer interrupted on the ASP's side leaves it."""
    cut = len(content) // 2
    if content[cut - 1: cut] == b"\n":
        cut += 1
    return content[:cut]
